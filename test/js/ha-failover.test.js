'use strict';
// The daemon follows a Sentinel failover (kill -9 of the master),
// and a second one back to the first master; with PUBLISH_MIN_REPLICAS=1
// no acknowledged event is lost: every consumer (two Node clients, the C
// CLI `listen`) receives every event answered 200, in id order, once.
// Real redis-server and redis-sentinel processes (test/lib/ha-cluster.js).
const t = require('tap');
const { runDrill } = require('../lib/ha-drill');
const { limit } = require('../lib/harness');

t.test('failover drill with PUBLISH_MIN_REPLICAS=1', { timeout: limit(110000) }, async (t) => {
  const r = await runDrill({ minReplicas: 1, log: (m) => t.comment(m) });
  t.comment(`kill -9 -> promotion ${r.promoteMs} ms, promotion -> first publish 200 ${r.followMs} ms; ` +
    `failover back: promotion ${r.promote2Ms} ms, follow ${r.follow2Ms} ms; ${r.acks.length} acknowledged, ` +
    `${r.failures.length} refused`);
  t.ok(r.followMs <= limit(5000), 'publishing works within 5 s of the promotion (' + r.followMs + ' ms)');
  t.ok(r.follow2Ms <= limit(5000), 'and within 5 s of the failover back (' + r.follow2Ms + ' ms)');
  t.match(r.serverLog, /redis master is 127\.0\.0\.1:\d+ \(from Sentinel\)[\s\S]*redis master is[\s\S]*redis master is/, 'the daemon logged both moves');
  t.same(r.exit, { code: 0, signal: null }, 'the daemon exits 0');

  // No id was given to two events, and every acknowledged event survived.
  const ids = r.acks.map((a) => a.id);
  t.equal(new Set(ids).size, ids.length, 'no id acknowledged twice');
  t.same(r.lost.map((a) => a.id), [], 'every acknowledged event is stored on the final master');
  t.same(r.failures.filter((f) => f.status !== 503), [], 'every refused publish is a 503');

  // Whatever any consumer saw under an id, acknowledged or not, is one event.
  const content = new Map();
  const twice = [];
  for (const events of Object.values(r.consumers)) {
    for (const e of events()) {
      const k = e.data.p + '/' + e.data.seq;
      if (content.has(e.id) && content.get(e.id) !== k) twice.push({ id: e.id, a: content.get(e.id), b: k });
      content.set(e.id, k);
    }
  }
  t.same(twice, [], 'no id was seen with two different events');
  t.notOk(r.catchUpError, r.catchUpError || 'every consumer caught up');
  const acked = new Map(r.acks.map((a) => [a.id, a]));
  for (const [name, events] of Object.entries(r.consumers)) {
    const got = events();
    const gotIds = got.map((e) => e.id);
    let ordered = true;
    for (let i = 1; i < gotIds.length; i++) if (gotIds[i] <= gotIds[i - 1]) ordered = false;
    t.ok(ordered, name + ': ids strictly increasing (in order, each once)');
    const byId = new Map(got.map((e) => [e.id, e]));
    const missing = [...acked.keys()].filter((id) => !byId.has(id));
    t.same(missing, [], name + ': received every acknowledged event');
    const wrong = [...acked.values()].filter((a) => byId.has(a.id) && (byId.get(a.id).data.p !== a.p || byId.get(a.id).data.seq !== a.seq));
    t.same(wrong, [], name + ': each id carries the event acknowledged under it');
  }
});

// Publishers that send through the Node client, which tries a send again
// with its Idempotency-Key after a failure without an answer or a 503:
// through both failovers every event is answered 200 and stored exactly
// once, and every consumer receives each once.
t.test('failover drill with retrying publishers: each event stored once, seen once', { timeout: limit(110000) }, async (t) => {
  const r = await runDrill({ minReplicas: 1, retrying: true, log: (m) => t.comment(m) });
  const count = (re) => { const m = re.exec(r.metrics); return m ? Number(m[1]) : 0; };
  const refused = count(/^ganomede_events_requests_total\{route="events",status="503"\} (\d+)$/m);
  const repeats = count(/^ganomede_events_publish_repeats_total (\d+)$/m);
  t.comment(`${r.acks.length} sends acknowledged, ${r.failures.length} failed; ${r.final.size} events stored; ` +
    `${refused} tries answered 503 and tried again, ${repeats} of the tries were repeats`);
  t.ok(refused > 0, 'the failovers made tries fail: the sends were tried again');
  t.same(r.failures, [], 'every send was answered 200 in the end');
  t.same(r.exit, { code: 0, signal: null }, 'the daemon exits 0');
  const stored = new Map();
  for (const e of r.final.values()) {
    const k = e.data.p + '/' + e.data.seq;
    stored.set(k, (stored.get(k) || 0) + 1);
  }
  t.same([...stored].filter(([, n]) => n !== 1), [], 'no event stored twice');
  t.same(r.lost.map((a) => a.id), [], 'every acknowledged event is stored under its id');
  t.equal(r.final.size, r.acks.length, 'the final master holds the acknowledged events, no other');
  t.notOk(r.catchUpError, r.catchUpError || 'every consumer caught up');
  const want = r.acks.map((a) => a.p + '/' + a.seq).sort();
  for (const [name, events] of Object.entries(r.consumers)) {
    const got = events().map((e) => e.data.p + '/' + e.data.seq).sort();
    t.same(got, want, name + ': each event once');
  }
});

// Without PUBLISH_MIN_REPLICAS a failover can take back acknowledged
// events, and the promoted master gives their ids to new events. What is
// measured: how many acknowledged events were lost. What must hold: no
// consumer skips an event the final master holds; one that saw an id
// holding another event before was told (CursorReset).
t.test('failover drill without PUBLISH_MIN_REPLICAS: losses are counted, consumers are told', { timeout: limit(110000) }, async (t) => {
  const r = await runDrill({ minReplicas: 0, log: (m) => t.comment(m) });
  const resets = Object.fromEntries(Object.entries(r.resets).map(([n, f]) => [n, f()]));
  t.comment(`${r.acks.length} acknowledged, ${r.lost.length} of them lost; resets told: ${JSON.stringify(resets)}`);
  t.ok(r.followMs <= limit(5000), 'publishing works within 5 s of the promotion (' + r.followMs + ' ms)');
  t.same(r.exit, { code: 0, signal: null }, 'the daemon exits 0');
  t.notOk(r.catchUpError, r.catchUpError || 'every consumer caught up');
  for (const [name, events] of Object.entries(r.consumers)) {
    const got = events();
    const have = new Set(got.map((e) => e.id + '/' + e.data.p + '/' + e.data.seq));
    const skipped = [...r.final.entries()].filter(([id, e]) => !have.has(id + '/' + e.data.p + '/' + e.data.seq)).map(([id]) => id);
    t.same(skipped, [], name + ': received every event the final master holds');
    const first = new Map();
    let reused = 0;
    for (const e of got) {
      const k = e.data.p + '/' + e.data.seq;
      if (first.has(e.id) && first.get(e.id) !== k) reused++;
      else first.set(e.id, k);
    }
    if (reused) t.ok(resets[name] >= 1, `${name}: saw ${reused} ids holding a new event, and was told (${resets[name]} resets)`);
    else t.pass(name + ': saw no id given again');
  }
});
