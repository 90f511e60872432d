'use strict';
// How long a slot holding a channel of 100,000 events takes to migrate
// between two masters of a local Redis Cluster (3 masters, no replicas),
// while that channel is published on and read through the daemon:
//
//   node bench/cluster-migrate.js [--events 100000] [--keys 1000]
//
// The channel is filled through the daemon (64 publishes in flight), then
// a publisher (one publish at a time) and a reader (long-polls with
// acknowledgements) run on it while CLUSTER SETSLOT ... MIGRATING /
// IMPORTING and MIGRATE (--keys keys a call) move its slot to another
// master, then SETSLOT ... NODE on every master. Prints the migration's
// time and keys, the publishes answered meanwhile (200, and refused), the
// slowest publish, and checks that the channel holds every event once,
// ids 1..N, and that the reader got them all in order.
const h = require('../test/lib/harness');
const { startRedisCluster } = require('../test/lib/redis-cluster');

const arg = (name, def) => {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const EVENTS = arg('events', 100000);
const KEYS = arg('keys', 1000);
const tag = (c) => '{' + c.replace(/%/g, '%25').replace(/\{/g, '%7B').replace(/\}/g, '%7D') + '}';

async function main() {
  const cluster = await startRedisCluster({ masters: 3, replicas: 0 });
  const s = await h.startServer({ env: { REDIS_URL: 'redis-cluster://' + cluster.seeds(), POLL_TIMEOUT: '1000', LOG_LEVEL: 'WARN' } });
  try {
    const channel = h.unique('mig');
    const pub = () => h.request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'p', channel, from: 'f', type: 't', data: { x: 1 } });
    let t0 = Date.now(), sent = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (sent < EVENTS) {
        sent++;
        const r = await pub();
        if (r.status !== 200) throw new Error('fill: ' + r.status + ' ' + r.body);
      }
    }));
    console.log(`filled ${EVENTS} events in ${Date.now() - t0} ms`);
    const slot = await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag(channel) + ':last');
    const from = await cluster.slotMaster(slot);
    const to = cluster.nodes.map((n) => n.port).find((p) => p !== from);

    // A publisher and a reader on the channel while the slot moves.
    let stop = false;
    const acks = [], refused = [];
    let slowest = 0;
    const publisher = (async () => {
      while (!stop) {
        const a = Date.now();
        const r = await pub();
        slowest = Math.max(slowest, Date.now() - a);
        if (r.status === 200) acks.push(r.json.id);
        else refused.push(r.status);
        await h.sleep(2);
      }
    })();
    const got = [];
    let after = 0;
    const reader = (async () => {
      while (!stop || after < EVENTS + acks.length) {
        const r = await h.request(s.url, 'GET', '/events/v1/events?secret=' + s.secret + '&clientId=r&channel=' + encodeURIComponent(channel) +
          '&after=' + after + '&limit=1000');
        if (r.status !== 200) { await h.sleep(50); continue; }
        for (const e of r.json) got.push(e.id);
        if (r.json.length) after = r.json[r.json.length - 1].id;
      }
    })();
    await h.sleep(500);
    t0 = Date.now();
    const keys = await cluster.migrateSlot(slot, from, to, { keys: KEYS, pauseMs: 0 });
    const ms = Date.now() - t0;
    await h.sleep(500);
    stop = true;
    await publisher;
    await reader;
    const total = EVENTS + acks.length;
    const zcard = await h.redisCommand(to, 'ZCARD', tag(channel) + ':keys');
    const inOrder = got.every((id, i) => id === i + 1);
    console.log(`slot ${slot} (${keys} keys) moved from ${from} to ${to} in ${ms} ms, ${KEYS} keys a MIGRATE`);
    console.log(`meanwhile: ${acks.length} publishes answered 200, ${refused.length} refused ${JSON.stringify([...new Set(refused)])}; slowest publish ${slowest} ms`);
    console.log(`the channel holds ${zcard} events (${total} published); the reader got ${got.length}, ${inOrder ? 'ids 1..' + got.length + ' in order, each once' : 'NOT in order or not each once'}`);
    if (zcard !== total || got.length !== total || !inOrder) process.exitCode = 1;
  } finally {
    await s.stop();
    await cluster.stop();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
