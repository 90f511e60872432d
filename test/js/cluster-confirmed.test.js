'use strict';
// Redis Cluster with PUBLISH_MIN_REPLICAS=1: readers see a channel's
// events up to its confirmed id only ({<t>}:confirmed, in the channel's
// slot), as with one Redis. A publish whose replica is stopped (SIGSTOP:
// WAIT times out, 503 NOREPLICAS) is stored but hidden from GET
// /events/v1/events (script and range reads), a long-poll, a multi-channel
// poll and the event stream; the next confirmed publish shows both, and
// wakes the long-polls.
const t = require('tap');
const http = require('node:http');
const h = require('../lib/harness');
const { startRedisCluster } = require('../lib/redis-cluster');
const { until } = require('../lib/ha-cluster');

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const tag = (ch) => '{' + ch.replace(/%/g, '%25').replace(/\{/g, '%7B').replace(/\}/g, '%7D') + '}';

// The ids of the events an event stream delivered so far: st.ids.
function stream(s, query) {
  const st = { ids: [] };
  st.req = http.get(s.url + '/events/v1/stream?' + q(query), (res) => {
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (d) => {
      buf += d;
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        if (!/^event:/m.test(block) && data) st.ids.push(JSON.parse(data).id);
      }
    });
    res.on('error', () => {});
  });
  st.req.on('error', () => {});
  return st;
}

t.test('cluster with PUBLISH_MIN_REPLICAS=1: readers see events up to the confirmed id only', { timeout: h.limit(120000) }, async (t) => {
  const cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeout: 5000 });
  t.teardown(() => cluster.stop());
  const s = await h.startServer({ env: { REDIS_URL: 'redis-cluster://' + cluster.seeds(), PUBLISH_MIN_REPLICAS: '1',
    PUBLISH_REPLICA_TIMEOUT_MS: '300', POLL_TIMEOUT: '20000' } });
  t.teardown(() => s.stop());
  const get = (o) => h.request(s.url, 'GET', '/events/v1/events?' + q(Object.assign({ secret: s.secret }, o)));
  const post = (channel, data) => h.request(s.url, 'POST', '/events/v1/events',
    { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data });
  const multi = (clientId, channel, after) => h.request(s.url, 'POST', '/events/v1/events/multi',
    { secret: s.secret, clientId, channels: [{ channel, after }] });
  const any = cluster.nodes[0].port;
  const ch = h.unique('cap') + '{x}';
  const tg = tag(ch);
  const slot = await h.redisCommand(any, 'CLUSTER', 'KEYSLOT', tg + ':last');
  const master = await cluster.slotMaster(slot);
  const replicaPort = await until(() => cluster.replicaOf(master), 20000, 'the channel\'s master to have a replica');
  await until(async () => /connected_slaves:1/.test(await h.redisCommand(master, 'INFO', 'replication')), 20000,
    'the replica to be linked');
  const rnode = cluster.nodes.find((n) => n.port === replicaPort);

  // A healthy replica: read at once, the confirmed id in the channel's slot.
  const first = await post(ch, { n: 1 });
  t.equal(first.status, 200, 'a publish the replica confirmed');
  t.same((await get({ clientId: 'a', channel: ch, after: 0 })).json.map((e) => e.id), [first.json.id], 'read at once');
  t.equal(await h.redisCommand(any, 'CLUSTER', 'KEYSLOT', tg + ':confirmed'), slot, '{<t>}:confirmed is in the channel\'s slot');
  await until(async () => await h.redisCommand(master, 'GET', tg + ':confirmed') === String(first.json.id), 5000,
    'the confirmed id written on the channel\'s master');

  // Waiting readers, before the publish the replica will not confirm.
  const poll = get({ clientId: 'lp', channel: ch, after: first.json.id });
  const mpoll = multi('mp', ch, first.json.id);
  const st = stream(s, { secret: s.secret, channel: ch, lastEventId: String(first.json.id) });
  t.teardown(() => st.req.destroy());
  let settled = false;
  poll.then(() => { settled = true; });
  await h.sleep(300);

  rnode.proc.kill('SIGSTOP');
  let stopped = true;
  t.teardown(() => { if (stopped) rnode.proc.kill('SIGCONT'); });
  const second = await post(ch, { n: 2 });
  t.equal(second.status, 503, 'a publish no replica confirmed');
  t.match(second.json.message, /only 0 of the 1 replicas required confirmed/);
  t.ok(await h.redisCommand(master, 'GET', tg + ':2'), 'yet it is stored on the master');
  t.equal(await h.redisCommand(master, 'GET', tg + ':confirmed'), String(first.json.id), 'the confirmed id did not move');
  t.same((await get({ clientId: 'b', channel: ch, after: 0 })).json.map((e) => e.id), [first.json.id], 'a read from 0 does not see it');
  t.same((await get({ clientId: 'b', channel: ch, after: 0, limit: 1000 })).json.map((e) => e.id), [first.json.id],
    'nor the read script (a limit above 100)');
  t.same((await get({ clientId: 'fresh', channel: ch })).json.map((e) => e.id), [first.json.id],
    'nor a read from the stored cursor');
  await h.sleep(500);
  t.notOk(settled, 'the long-poll after the cursor is still waiting (it was woken by the publish, read nothing)');
  t.same(st.ids, [], 'the event stream did not deliver it');

  // The replica back: the next confirmed publish shows both, wakes the long-polls.
  rnode.proc.kill('SIGCONT');
  stopped = false;
  await cluster.healthy(30000);
  let third;
  await until(async () => { third = await post(ch, { n: 3 }); return third.status === 200; }, 20000, 'a confirmed publish');
  const want = [];
  for (let id = first.json.id + 1; id <= third.json.id; id++) want.push(id);
  const r = await poll;
  t.equal(r.status, 200);
  t.same(r.json.map((e) => e.id), want, 'the long-poll is answered with the event the confirmation showed, and the new one');
  const m = await mpoll;
  t.equal(m.status, 200);
  t.same(m.json.channels.flatMap((c) => c.events.map((e) => e.id)), want, 'the multi-channel poll too');
  await until(async () => st.ids.length >= want.length, 10000, 'the stream to deliver them');
  t.same(st.ids, want, 'the event stream delivers them, in order');
  t.same((await get({ clientId: 'c', channel: ch, after: 0 })).json.map((e) => e.id), [first.json.id, ...want],
    'a read from 0 sees them');
  t.equal(await h.redisCommand(master, 'GET', tg + ':confirmed'), String(third.json.id), 'the confirmed id raised');
});
