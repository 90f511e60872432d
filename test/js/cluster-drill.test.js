'use strict';
// The Redis Cluster drill (test/lib/cluster-drill.js): 3 masters and 3
// replicas, two daemons, 1,000 channels, publishers on both daemons,
// Node Clients and CLI `listen`s on every channel; kill -9 of a master and
// the cluster's own failover, the node started again, and a busy slot
// migrated. With PUBLISH_MIN_REPLICAS=1 every event answered 200 reaches
// every consumer once, in id order, and the Node Clients' sends, tried
// again through the failover, are each stored once; without it the losses are counted and
// every consumer whose cursor was on an id given again is told.
const t = require('tap');
const { runClusterDrill } = require('../lib/cluster-drill');
const { limit } = require('../lib/harness');

const key = (e) => e.data.c + '/' + e.data.p + '/' + e.data.seq;

t.test('cluster drill with PUBLISH_MIN_REPLICAS=1: a master killed, a busy slot migrated, nothing lost', { timeout: limit(120000) }, async (t) => {
  const r = await runClusterDrill({ minReplicas: 1, recover: true, senders: 2, log: (m) => t.comment(m) });
  const statuses = {};
  for (const f of r.failures) statuses[f.status] = (statuses[f.status] || 0) + 1;
  t.comment(`${r.acks.length} publishes answered 200, refused ${JSON.stringify(statuses)}; victim's channels unserved ` +
    `${r.unserved && r.unserved.ms} ms (first 503 to first 200, the node's restart included)`);
  t.comment('Node Clients, events of the other masters\' channels published while the victim\'s slots had no master: ' +
    r.othersDelay.map((d) => `${d.name} ${d.n} events, received after median ${d.median} ms, max ${d.max} ms; errors ${JSON.stringify(d.errors)}`).join('; '));
  t.same(r.exits, [{ code: 0, signal: null }, { code: 0, signal: null }], 'both daemons exit 0');
  t.ok(r.unserved, 'the victim\'s channels were refused (503) during the failover');
  t.same(r.failures.filter((f) => f.status !== 503), [], 'every refused publish is a 503');
  t.ok(r.failures.every((f) => f.at - f.sent < limit(10000)), 'every refusal came within 10 s');
  t.equal(r.movedTo, r.migrated.to, 'the busy slot moved (' + r.migrated.keys + ' keys)');

  // No id answered 200 twice on a channel, and every one is stored.
  const ids = r.acks.map((a) => a.c + '/' + a.id);
  t.equal(new Set(ids).size, ids.length, 'no id answered 200 twice');
  t.same(r.lost.map((a) => a.c + '/' + a.id), [], 'every event answered 200 is stored, under its id');
  t.ok(r.acks.some((a) => r.onVictim(a.c) && a.at > r.marks.killedAt), 'the failed-over shard answered 200 again');
  t.ok(r.acks.some((a) => r.slots[a.c] === r.migrated.slot && a.at > r.marks.migrationAt), 'the migrated slot was published on meanwhile');

  // The Node Clients' sends (a key with each, tried again through the failover): each stored once.
  // A try answers in milliseconds (or is refused at once): an answer a second after its send was tried again.
  const sentDuring = r.sends.acks.filter((a) => r.onVictim(a.c) && a.at > r.marks.killedAt && a.at - a.sent > 1000);
  t.comment(`sends: ${r.sends.acks.length} answered, ${r.sends.failures.length} failed after their last try; ` +
    `${sentDuring.length} on the victim's shard answered only after the failover`);
  t.ok(sentDuring.length > 0, 'sends on the failed-over shard were retried through the failover and answered');
  t.same(r.sends.failures.map((f) => f.status + ' ' + f.message).slice(0, 3), [], 'no send failed after its tries');
  const stored = new Map();
  for (const evs of r.final) for (const e of evs) if (e.data.p > 100) stored.set(e.data.p + '/' + e.data.seq, (stored.get(e.data.p + '/' + e.data.seq) || 0) + 1);
  t.same([...stored].filter(([, n]) => n > 1).slice(0, 5), [], 'no send stored twice');
  t.same(r.sends.acks.filter((a) => !stored.has(a.p + '/' + a.seq)).slice(0, 5), [], 'every send answered is stored');

  t.notOk(r.catchUpError, r.catchUpError || 'every consumer caught up');
  for (const x of r.consumers) {
    const got = x.events();
    const disorder = [];
    const twice = [];
    const missing = [];
    const wrong = [];
    got.forEach((evs, k) => {
      for (let i = 1; i < evs.length; i++) if (evs[i].id <= evs[i - 1].id) disorder.push(k + ': ' + evs[i - 1].id + ' then ' + evs[i].id);
      const seen = new Set();
      for (const e of evs) { if (seen.has(key(e))) twice.push(k + '/' + e.id); seen.add(key(e)); }
    });
    const byId = got.map((evs) => new Map(evs.map((e) => [e.id, e])));
    for (const a of r.acks) {
      const e = byId[a.c].get(a.id);
      if (!e) missing.push(a.c + '/' + a.id);
      else if (e.data.p !== a.p || e.data.seq !== a.seq) wrong.push(a.c + '/' + a.id);
    }
    t.same(disorder.slice(0, 5), [], x.name + ': each channel\'s events in id order, each id once');
    t.same(twice.slice(0, 5), [], x.name + ': no event delivered twice');
    t.same(missing.slice(0, 5), [], x.name + ': received every event answered 200 (' + r.acks.length + ')');
    t.same(wrong.slice(0, 5), [], x.name + ': each id carries the event answered under it');
    t.equal(x.resets().reduce((a, b) => a + b, 0), 0, x.name + ': no cursor reset');
  }
});

// A consumer's channels where it saw an event taken back (an id given
// again, or its cursor on an event the channel no longer holds), those it
// was not told of, and the events the cluster holds that it did not get.
function views(r, x) {
  const got = x.events();
  const resets = x.resets();
  const out = { reused: 0, untold: [], skipped: [] };
  got.forEach((evs, k) => {
    const have = new Set(evs.map((e) => e.id + '/' + key(e)));
    for (const e of r.final[k]) if (!have.has(e.id + '/' + key(e))) out.skipped.push(k + '/' + e.id);
    const first = new Map();
    let reused = false;
    for (const e of evs) {
      if (first.has(e.id) && first.get(e.id) !== key(e)) reused = true;
      else first.set(e.id, key(e));
    }
    const held = new Set(r.final[k].map((e) => e.id + '/' + key(e)));
    const onTakenBack = evs.some((e) => !held.has(e.id + '/' + key(e)));
    if (reused || onTakenBack) {
      out.reused++;
      if (!resets[k]) out.untold.push(k);
    }
  });
  return out;
}

// Without PUBLISH_MIN_REPLICAS a failover takes back what the replica had
// not received, and the promoted master gives those ids to new events. The
// drill makes the victim's replica lag before the kill, so that it does.
t.test('cluster drill without PUBLISH_MIN_REPLICAS: losses counted, every consumer on a reused id told', { timeout: limit(120000) }, async (t) => {
  // A quiet channel's consumer is told at its next read there: wait for it.
  const r = await runClusterDrill({ minReplicas: 0, recover: false, lagReplica: true, log: (m) => t.comment(m),
    settled: (res) => res.consumers.every((x) => views(res, x).untold.length === 0),
    settledWhat: 'every consumer to be told of the ids taken back it saw' });
  const u = r.unserved;
  t.comment(`${r.acks.length} publishes answered 200, ${r.lost.length} of them lost; ${r.failures.length} refused; ` +
    `victim's channels unserved ${u && u.ms} ms (first 503 to first 200); promotion ${r.promoteMs} ms after the kill`);
  t.same(r.exits, [{ code: 0, signal: null }, { code: 0, signal: null }], 'both daemons exit 0');
  t.ok(u && u.ms !== null, 'the victim\'s channels were refused, then served again');
  t.ok(r.lost.length > 0, 'the lagging replica\'s promotion took back events answered 200');
  t.ok(r.lost.every((a) => r.onVictim(a.c)), 'only on the killed master\'s channels');
  t.notOk(r.catchUpError, r.catchUpError || 'every consumer caught up');
  t.comment('consumers told of every id taken back they saw ' + r.settleMs + ' ms after they had caught up');
  let told = 0;
  for (const x of r.consumers) {
    const v = views(r, x);
    told += v.reused;
    t.same(v.skipped.slice(0, 5), [], x.name + ': received every event the cluster holds');
    t.same(v.untold, [], x.name + `: told on each of the ${v.reused} channels where it saw an event taken back`);
  }
  t.ok(told > 0, 'consumers had seen events that were taken back (' + told + ' channel views)');
});
