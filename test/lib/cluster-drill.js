'use strict';
// The Redis Cluster drill, shared by test/js/cluster-drill.test.js and
// bench/cluster-failover.js: a cluster of 3 masters and 3 replicas on
// loopback (cluster-node-timeout 1000), two daemons on it, 1,000 channels,
// publishers over HTTP spread over both daemons (half of the publishes on
// three busy channels, one per master), and consumers of both kinds on
// every channel: a Node Client per daemon and a CLI `listen` per daemon.
// Mid-run: kill -9 of the master of a busy channel, the cluster's own
// failover; then optionally the killed node started again (it comes back
// as a replica of the promoted one) and the slot of another busy channel
// migrated by hand. Returns what happened; the caller judges.
const h = require('./harness');
const ch = require('./client-harness');
const ha = require('./ha-cluster');
const { startRedisCluster } = require('./redis-cluster');

const CHANNELS = 1000;
const PUBLISHERS = 6;
const PUBLISH_GAP_MS = 8;

// The channel's hash tag in the cluster layout (docs/protocol.md).
const tag = (c) => '{' + c.replace(/%/g, '%25').replace(/\{/g, '%7B').replace(/\}/g, '%7D') + '}';

// Publishes {c, p, seq} until stopped, never retrying a seq: a publish not
// answered 200 is recorded as a failure, not an event. Channel k is
// channels[k]; even publishers go to daemon a, odd ones to b.
function publisher(servers, channels, hot, p) {
  const st = { acks: [], failures: [], stopped: false };
  const s = servers[p % servers.length];
  st.done = (async () => {
    for (let seq = 1; !st.stopped; seq++) {
      const c = seq % 2 ? hot[(seq >> 1) % hot.length] : Math.floor(Math.random() * channels.length);
      const sent = Date.now();
      try {
        const r = await h.request(s.url, 'POST', '/events/v1/events',
          { secret: h.SECRET, clientId: 'drill-pub-' + p, channel: channels[c], from: 'drill/v1', type: 'seq', data: { c, p, seq } });
        if (r.status === 200) st.acks.push({ c, id: r.json.id, p, seq, sent, at: Date.now() });
        else st.failures.push({ c, p, seq, sent, at: Date.now(), status: r.status, message: r.json && r.json.message });
      } catch (e) {
        st.failures.push({ c, p, seq, sent, at: Date.now(), status: 0, message: e.message });
      }
      await h.sleep(PUBLISH_GAP_MS);
    }
  })();
  return st;
}

// Publishes {c, p, seq} as a Node Client's send() does (an Idempotency-Key
// with each, tried again after no answer or a 503): the send's answer is
// the ack; one that failed after its last try, a failure. Mostly on the
// victim-to-be's busy channel (hot[0]), which the failover stops.
function retryingPublisher(server, channels, hot, p) {
  const st = { acks: [], failures: [], stopped: false, retrying: true };
  const c = new ch.Client(h.unique('drill-send-' + p), { secret: h.SECRET, protocol: 'http', hostname: '127.0.0.1', port: server.port });
  st.done = (async () => {
    for (let seq = 1; !st.stopped; seq++) {
      const k = seq % 4 ? hot[0] : hot[seq % hot.length];
      const sent = Date.now();
      await new Promise((resolve) => c.send(channels[k], { from: 'drill/v1', type: 'seq', data: { c: k, p, seq } }, (err, ev) => {
        if (err) st.failures.push({ c: k, p, seq, sent, at: Date.now(), status: err.statusCode || 0, message: err.message });
        else st.acks.push({ c: k, id: ev.id, p, seq, sent, at: Date.now() });
        resolve();
      }));
      await h.sleep(PUBLISH_GAP_MS);
    }
    c.close();
  })();
  return st;
}

// A consumer's view: per channel index, the events in arrival order, and
// the resets it was told of.
function nodeConsumer(server, channels, name) {
  const byChannel = channels.map(() => []);
  const arrivals = channels.map(() => new Map()); // id -> ms of its (last) arrival
  const resets = channels.map(() => 0);
  const index = new Map(channels.map((c, k) => [c, k]));
  const errors = {};
  const c = new ch.Client(h.unique('drill-' + name), { secret: h.SECRET, protocol: 'http', hostname: '127.0.0.1', port: server.port });
  c.on('error', (err, channel) => {
    if (err.code === 'CursorReset') resets[index.get(channel)]++;
    errors[err.code || err.statusCode] = (errors[err.code || err.statusCode] || 0) + 1;
  });
  for (const channel of channels) {
    const k = index.get(channel);
    c.on(channel, (ev) => { byChannel[k].push(ev); arrivals[k].set(ev.id, Date.now()); });
  }
  return { name, events: () => byChannel, arrivals, resets: () => resets, errors, close: () => c.close() };
}

// The CLI on every channel: its lines carry data.c, the channel's index;
// its warnings name the channel.
function cliConsumer(server, channels, name) {
  const index = new Map(channels.map((c, k) => [c, k]));
  const r = ch.startCli(server, ['listen'].concat(channels), h.unique('drill-' + name), h.limit(600000));
  const events = () => {
    const by = channels.map(() => []);
    for (const e of r.events()) by[e.data.c].push(e);
    return by;
  };
  const resets = () => {
    const n = channels.map(() => 0);
    for (const m of r.stderr.matchAll(/^ganomede-events: listen (.*): warning: CursorReset/gm)) n[index.get(m[1])]++;
    return n;
  };
  return { name, events, resets, proc: r, close: async () => { r.proc.kill('SIGKILL'); await r.done; } };
}

// The first 503 on the victim's channels after `from` and the first 200 on
// them after that: how long the shard's channels were unserved.
function unserved(pubs, onVictim, from) {
  const fails = [].concat(...pubs.map((p) => p.failures)).filter((f) => onVictim(f.c) && f.at >= from).sort((a, b) => a.at - b.at);
  if (!fails.length) return null;
  const first = fails[0];
  const acks = [].concat(...pubs.map((p) => p.acks)).filter((a) => onVictim(a.c) && a.sent > first.at).sort((a, b) => a.at - b.at);
  return { firstFailureAt: first.at, firstOkAt: acks.length ? acks[0].at : null, ms: acks.length ? acks[0].at - first.at : null };
}

// opts: minReplicas (0), recover (restart the killed node and migrate a
// busy slot: true), senders (Node Clients publishing with send(), as
// retryingPublisher: 0), lagReplica (make the victim's replica lag before the
// kill, so that the failover takes events back: false), log (fn).
async function runClusterDrill(opts = {}) {
  const log = opts.log || (() => {});
  const res = { marks: {} };
  const cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeout: 1000 });
  const servers = [];
  const consumers = [];
  const pubs = [];
  try {
    const env = { REDIS_URL: 'redis-cluster://' + cluster.seeds(), POLL_TIMEOUT: '1000', LOG_LEVEL: 'WARN' };
    if (opts.minReplicas) Object.assign(env, { PUBLISH_MIN_REPLICAS: String(opts.minReplicas), PUBLISH_REPLICA_TIMEOUT_MS: '500' });
    for (let i = 0; i < 2; i++) servers.push(await h.startServer({ env }));

    // 1,000 channels, some with the layout's escaped characters; each
    // one's slot and master.
    const prefix = h.unique('cd');
    const channels = Array.from({ length: CHANNELS }, (_, k) => prefix + '/' + k + (k % 10 === 3 ? '{x}' : k % 10 === 7 ? '%}' : ''));
    const any = cluster.nodes[0].port;
    const slots = [];
    for (let k = 0; k < CHANNELS; k += 50) {
      slots.push(...await Promise.all(channels.slice(k, k + 50).map((c) => h.redisCommand(any, 'CLUSTER', 'KEYSLOT', tag(c) + ':last'))));
    }
    const masterOf = new Map();
    for (const s of new Set(slots)) masterOf.set(s, await cluster.slotMaster(s));
    const masters = [...new Set(masterOf.values())];
    // A busy channel on each master.
    const hot = masters.map((m) => slots.findIndex((s) => masterOf.get(s) === m));
    res.channels = channels;
    res.slots = slots;
    // Every channel has an event before the consumers start: the CLI takes
    // an error on a channel it never had an answer for as fatal.
    for (let k = 0; k < CHANNELS; k += 50) {
      await Promise.all(channels.slice(k, k + 50).map((c, j) => h.request(servers[j % 2].url, 'POST', '/events/v1/events',
        { secret: h.SECRET, clientId: 'drill-init', channel: c, from: 'drill/v1', type: 'seq', data: { c: k + j, p: 0, seq: 0 } })
        .then((r) => { if (r.status !== 200) throw new Error('first publish on ' + c + ': ' + r.status + ' ' + r.body); })));
    }
    await h.sleep(200); // replicated

    consumers.push(nodeConsumer(servers[0], channels, 'node-a'), nodeConsumer(servers[1], channels, 'node-b'),
      cliConsumer(servers[0], channels, 'cli-a'), cliConsumer(servers[1], channels, 'cli-b'));
    await ha.until(async () => consumers.every((x) => x.events().every((e) => e.length > 0)), 30000,
      'every consumer to receive an event of every channel');
    for (let p = 1; p <= PUBLISHERS; p++) pubs.push(publisher(servers, channels, hot, p));
    for (let p = 1; p <= (opts.senders || 0); p++) pubs.push(retryingPublisher(servers[p % 2], channels, hot, 100 + p));
    const acked = () => pubs.reduce((n, x) => n + x.acks.length, 0);
    await ha.until(async () => acked() >= 300, 20000, 'steady publishing');

    // kill -9 of the master of the first busy channel.
    const victim = masterOf.get(slots[hot[0]]);
    const replica = await cluster.replicaOf(victim);
    const onVictim = (c) => masterOf.get(slots[c]) === victim;
    res.victim = victim;
    if (opts.lagReplica) {
      // The replica stops reading (SIGSTOP, for less than the node timeout)
      // and a value larger than the sockets' buffers goes to the master:
      // the replication stream of the publishes answered meanwhile waits
      // behind it in the master's memory, and dies with it.
      const rp = cluster.nodes.find((n) => n.port === replica).proc;
      rp.kill('SIGSTOP');
      res.marks.replicaStoppedAt = Date.now();
      const filler = tag(channels[hot[0]]) + ':drill-filler';
      await h.redisCommand(victim, 'SET', filler, 'x'.repeat(32 << 20));
      await h.sleep(400);
      await cluster.kill(victim);
      rp.kill('SIGCONT');
    } else {
      await cluster.kill(victim);
    }
    const killedAt = Date.now();
    res.marks.killedAt = killedAt;
    log('master ' + victim + ' killed');
    const promoted = await ha.until(async () => {
      const m = await cluster.slotMaster(slots[hot[0]]);
      return m && m !== victim ? { port: m, at: Date.now() } : false;
    }, 30000, 'the cluster to promote the replica of ' + victim);
    res.promoted = promoted.port;
    res.promoteMs = promoted.at - killedAt;
    log('replica ' + promoted.port + ' promoted ' + res.promoteMs + ' ms after the kill');

    if (opts.recover !== false) {
      // The killed node started again: it rejoins as the promoted master's
      // replica (with PUBLISH_MIN_REPLICAS that shard needs one to answer 200).
      await cluster.restart(victim);
      await cluster.healthy(30000);
      res.marks.rejoinedAt = Date.now();
      log('node ' + victim + ' rejoined as a replica ' + (res.marks.rejoinedAt - killedAt) + ' ms after the kill');
      await ha.until(async () => pubs.some((p) => p.acks.some((a) => onVictim(a.c) && a.sent > res.marks.rejoinedAt)), 20000,
        'a publish on the failed-over shard answered 200');
      // The slot of the second busy channel moved to the promoted master
      // while it is published on and read.
      const slot = slots[hot[1]];
      const from = masterOf.get(slot);
      res.marks.migrationAt = Date.now();
      res.migrated = { slot, from, to: promoted.port, keys: await cluster.migrateSlot(slot, from, promoted.port) };
      res.marks.migratedAt = Date.now();
      log(`slot ${slot} (${res.migrated.keys} keys) moved from ${from} to ${promoted.port} in ${res.marks.migratedAt - res.marks.migrationAt} ms`);
      // The masters were told (SETSLOT ... NODE); a replica asked for the map learns it by gossip.
      res.movedTo = await ha.until(async () => {
        const m = await cluster.slotMaster(slot);
        return m === promoted.port ? m : false;
      }, 5000, 'every node to name the slot\'s new master').catch(() => cluster.slotMaster(slot));
    } else {
      await ha.until(async () => pubs.some((p) => p.acks.some((a) => onVictim(a.c) && a.sent > promoted.at)), 20000,
        'a publish on the failed-over shard answered 200');
    }
    await h.sleep(1000);
    for (const p of pubs) p.stopped = true;
    await Promise.all(pubs.map((p) => p.done));
    res.unserved = unserved(pubs, onVictim, killedAt - 500);
    res.acks = [].concat(...pubs.map((p) => p.acks));
    res.failures = [].concat(...pubs.map((p) => p.failures));
    res.sends = { acks: [].concat(...pubs.filter((p) => p.retrying).map((p) => p.acks)),
      failures: [].concat(...pubs.filter((p) => p.retrying).map((p) => p.failures)) };
    res.onVictim = onVictim;
    res.promotedAt = promoted.at;

    // With PUBLISH_MIN_REPLICAS readers see a channel up to its confirmed
    // id, and a kill can cut off the confirmation of the last events before
    // it (they are stored, on the promoted replica): the channel's next
    // confirmed publish shows them. One more event on each of the victim's
    // channels, so that every event stored is shown.
    if (opts.minReplicas) {
      const victims = channels.map((c, k) => k).filter((k) => onVictim(k));
      for (let i = 0; i < victims.length; i += 20) {
        await Promise.all(victims.slice(i, i + 20).map(async (k) => {
          for (let tries = 0; ; tries++) {
            const r = await h.request(servers[0].url, 'POST', '/events/v1/events',
              { secret: h.SECRET, clientId: 'drill-confirm', channel: channels[k], from: 'drill/v1', type: 'seq', data: { c: k, p: 0, seq: 1 } });
            if (r.status === 200) return;
            if (tries >= 100) throw new Error('confirming ' + channels[k] + ': ' + r.status + ' ' + r.body);
            await h.sleep(50);
          }
        }));
      }
    }

    // What the cluster holds, read through a daemon: every channel from id 0.
    res.final = [];
    for (let k = 0; k < CHANNELS; k += 20) {
      res.final.push(...await Promise.all(channels.slice(k, k + 20).map(async (c) => {
        const all = [];
        for (let after = 0; ;) {
          const r = await h.request(servers[0].url, 'GET', '/events/v1/events?secret=' + h.SECRET + '&clientId=drill-check&channel=' +
            encodeURIComponent(c) + '&after=' + after + '&limit=1000');
          if (r.status !== 200) throw new Error('reading ' + c + ': ' + r.status + ' ' + r.body);
          all.push(...r.json);
          if (r.json.length < 1000) return all;
          after = r.json[r.json.length - 1].id;
        }
      })));
    }
    const same = (a, b) => a && b && a.data.p === b.data.p && a.data.seq === b.data.seq && a.data.c === b.data.c;
    res.same = same;
    const stored = res.final.map((evs) => new Map(evs.map((e) => [e.id, e])));
    res.lost = res.acks.filter((a) => { const e = stored[a.c].get(a.id); return !e || e.data.p !== a.p || e.data.seq !== a.seq; });
    // Consumers catch up: each one has received the last event of every
    // channel (after a reset its own last event may be one taken back).
    res.consumers = consumers;
    const behind = (x) => x.events().filter((evs, k) => {
      const last = res.final[k][res.final[k].length - 1];
      return !evs.some((e) => e.id === last.id && same(e, last));
    }).length;
    await ha.until(async () => consumers.every((x) => !behind(x)), 30000,
      'every consumer to receive the last event of every channel').catch((e) => {
      res.catchUpError = e.message + ': ' + consumers.map((x) => x.name + ' behind on ' + behind(x) + ' channels').join(', ');
    });
    // What the caller waits for before the consumers stop (opts.settled,
    // a predicate of res; at most 30 s): a consumer is told of a cursor on
    // an id taken back at its next read of that channel, which may come
    // after it has received every event.
    if (opts.settled) {
      const from = Date.now();
      await ha.until(async () => opts.settled(res), 30000, opts.settledWhat || 'the consumers to settle').catch((e) => {
        res.settleError = e.message;
      });
      res.settleMs = Date.now() - from;
    }
    // How late the Node Clients received the events answered 200 on the
    // other masters' channels while the victim's slots had no master.
    res.othersDelay = consumers.filter((x) => x.arrivals).map((x) => {
      const d = res.acks.filter((a) => !onVictim(a.c) && a.at >= res.marks.killedAt && a.at <= res.promotedAt)
        .map((a) => (x.arrivals[a.c].get(a.id) || Infinity) - a.at).sort((p, q) => p - q);
      return { name: x.name, n: d.length, median: d[d.length >> 1], max: d[d.length - 1], errors: x.errors };
    });
    return res;
  } finally {
    for (const p of pubs) p.stopped = true;
    await Promise.all(pubs.map((p) => p.done));
    for (const c of consumers) await c.close();
    res.exits = [];
    for (const s of servers) res.exits.push(await s.stop());
    await cluster.stop();
  }
}

module.exports = { runClusterDrill, CHANNELS };
