'use strict';
// Publishes that arrive together share one script call (docs/protocol.md,
// "Redis layout"), and each is still stored, numbered and announced on
// its own, with its own answer: a key collision or a full Redis fails the
// publishes it concerns and no other; retention caps and the metrics count
// every event. Private redis-servers (so that their script calls can be
// counted), held with CLIENT PAUSE while the publishes arrive, so that
// they wait for the daemon's first call and go together in the next.
const t = require('tap');
const { subscriber } = require('../lib/redis-subscriber');
const { startServer, startRedis, request, redisCommand, limit, sleep } = require('../lib/harness');
const ha = require('../lib/ha-cluster');

const T = { timeout: limit(90000) };
const PAUSE_MS = 1500;

const publish = (s, channel, data) => request(s.url, 'POST', '/events/v1/events',
  { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data });
const metric = async (s, name) => {
  const m = new RegExp('^' + name + ' (\\d+)$', 'm').exec((await request(s.url, 'GET', '/metrics')).body);
  return m ? Number(m[1]) : NaN;
};
const calls = async (port, cmd) => {
  const m = new RegExp('cmdstat_' + cmd + ':calls=(\\d+)').exec(await redisCommand(port, 'INFO', 'commandstats'));
  return m ? Number(m[1]) : 0;
};
const scriptCalls = (port) => calls(port, 'evalsha');
const range = (n) => Array.from({ length: n }, (_, i) => i + 1);
const sorted = (a) => a.slice().sort((x, y) => x - y);

// Redis and a daemon on it; stopped at the test's end.
async function stack(t, env = {}) {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const s = await startServer({ redisPort: redis.port, env });
  t.teardown(() => s.stop());
  return { redis, s };
}

// Start `publishes` (a list of [channel, data]) together while Redis is
// paused; their answers, in the list's order.
async function together(redis, s, publishes) {
  await redisCommand(redis.port, 'CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL');
  return Promise.all(publishes.map(([ch, data]) => publish(s, ch, data)));
}

t.test('a burst with key collisions among it: the others are stored, numbered and announced', T, async (t) => {
  const { redis, s } = await stack(t);
  const rc = (...a) => redisCommand(redis.port, ...a);
  const [A, B, C] = ['fine', 'taken-counter', 'taken-event'];
  await rc('HSET', 'indices:' + B, 'f', 'v'); // B's counter is not a counter
  await rc('SET', C + ':3', 'not an event'); // C's third event key is taken
  const seen = await subscriber(t, redis.port, [A, B, C]);
  await rc('CONFIG', 'RESETSTAT');
  const N = 12;
  const list = [];
  for (let k = 0; k < N; k++) for (const ch of [A, B, C]) list.push([ch, { k }]);
  const answers = await together(redis, s, list);
  t.ok(await scriptCalls(redis.port) < list.length, 'the publishes shared script calls');

  const of = (ch) => answers.filter((r, i) => list[i][0] === ch);
  // A: every event stored, ids 1..N without gaps, each answer its own event.
  const a = of(A);
  t.same(a.map((r) => r.status), Array(N).fill(200));
  t.same(sorted(a.map((r) => r.json.id)), range(N), 'ids contiguous');
  a.forEach((r, i) => t.equal(r.json.data.k, list.filter((p) => p[0] === A)[i][1].k, 'each answer is its own event'));
  for (const r of a) t.equal(await rc('GET', A + ':' + r.json.id), r.body, 'stored as answered');
  t.equal(await rc('GET', 'indices:' + A), String(N));
  t.same(await rc('ZRANGE', A + ':keys', 0, -1, 'WITHSCORES'), range(N).flatMap((i) => [A + ':' + i, String(i)]),
    'the key set as one by one (the original layout)');
  // B: every publish a collision, nothing written.
  for (const r of of(B)) {
    t.equal(r.status, 500);
    t.equal(r.json.code, 'KeyCollision');
    t.match(r.json.message, 'indices:' + B + ' holds something other than the event counter');
  }
  t.equal(await rc('TYPE', 'indices:' + B), 'hash', 'the hash is untouched');
  t.equal(await rc('EXISTS', B + ':keys', B + ':1'), 0);
  // C: events 1 and 2 stored; the third id's key is taken, so every later
  // publish meets it, as one by one: each is refused, none half stored.
  const c = of(C);
  t.same(c.filter((r) => r.status === 200).map((r) => r.json.id).sort(), [1, 2]);
  for (const r of c.filter((r) => r.status !== 200)) {
    t.equal(r.status, 500);
    t.equal(r.json.code, 'KeyCollision');
    t.match(r.json.message, C + ':3 already exists');
  }
  t.equal(await rc('GET', 'indices:' + C), '2', 'the counter is not advanced past the collision');
  t.equal(await rc('GET', C + ':3'), 'not an event');
  t.equal(await rc('ZCARD', C + ':keys'), 2);
  // Announced: every stored event, once, and nothing else.
  for (let i = 0; i < 50 && seen[A].length + seen[C].length < N + 2; i++) await sleep(20);
  t.same(sorted(seen[A]), range(N), 'every event of A announced');
  t.same(seen[C].slice().sort(), [1, 2]);
  t.same(seen[B], []);
  t.equal(await metric(s, 'ganomede_events_published_total'), N + 2, 'published counts every stored event');
  // What a reader gets: A's events in order.
  const got = await request(s.url, 'GET', '/events/v1/events?secret=' + s.secret + '&clientId=r&channel=' + A + '&after=0');
  t.same(got.json.map((e) => e.id), range(N));
});

t.test('a burst on one channel after a collision with the next id: the ones before it are stored', T, async (t) => {
  const { redis, s } = await stack(t);
  const rc = (...a) => redisCommand(redis.port, ...a);
  const ch = 'gap';
  for (let i = 1; i <= 3; i++) t.equal((await publish(s, ch, { i })).status, 200);
  await rc('SET', ch + ':6', 'taken'); // the key of the third event of the burst
  const answers = await together(redis, s, Array.from({ length: 8 }, (_, k) => [ch, { k }]));
  const ok = answers.filter((r) => r.status === 200);
  t.same(ok.map((r) => r.json.id).sort(), [4, 5], 'the burst stores the events before the taken key');
  t.equal(answers.filter((r) => r.status === 500 && r.json.code === 'KeyCollision').length, 6);
  t.equal(await rc('GET', 'indices:' + ch), '5');
  t.equal(await rc('ZCARD', ch + ':keys'), 5);
  t.equal(await rc('GET', ch + ':6'), 'taken');
  t.equal(await rc('EXISTS', ch + ':7', ch + ':8'), 0, 'nothing stored past it');
});

t.test('a burst after Redis lost the scripts: the call is sent again with the script, every event stored once', T, async (t) => {
  const { redis, s } = await stack(t);
  const rc = (...a) => redisCommand(redis.port, ...a);
  await rc('SCRIPT', 'FLUSH');
  const answers = await together(redis, s, Array.from({ length: 10 }, (_, k) => ['flushed', { k }]));
  t.same(answers.map((r) => r.status), Array(10).fill(200));
  t.same(sorted(answers.map((r) => r.json.id)), range(10));
  t.equal(await rc('GET', 'indices:flushed'), '10');
  t.equal(await rc('ZCARD', 'flushed:keys'), 10);
});

t.test('a full Redis refuses every publish of a burst and stores none; with room, all of the next are stored', T, async (t) => {
  const { redis, s } = await stack(t);
  const rc = (...a) => redisCommand(redis.port, ...a);
  const used = Number(/used_memory:(\d+)/.exec(await rc('INFO', 'memory'))[1]);
  await rc('CONFIG', 'SET', 'maxmemory', String(used - 128 * 1024)); // below what it holds: it refuses writes
  await t.rejects(rc('SET', 'probe', '1'), /OOM/, 'Redis refuses writes');
  const list = [];
  for (let k = 0; k < 10; k++) list.push(['full-a', { k }], ['full-b', { k }]);
  const answers = await together(redis, s, list);
  for (const r of answers) {
    t.equal(r.status, 503);
    t.equal(r.json.code, 'StorageFull');
  }
  t.equal(await rc('EXISTS', 'indices:full-a', 'indices:full-b', 'full-a:keys', 'full-a:1'), 0, 'nothing stored');
  await rc('CONFIG', 'SET', 'maxmemory', '0');
  const again = await together(redis, s, list);
  t.same(again.map((r) => r.status), Array(list.length).fill(200));
  t.equal(await rc('GET', 'indices:full-a'), '10');
  t.equal(await rc('GET', 'indices:full-b'), '10');
});

t.test('a burst keeps the retention caps: count limit and age listing, trims counted', T, async (t) => {
  const { redis, s } = await stack(t, { RETENTION_RULES: 'cap=5, aged=0:1h' });
  const rc = (...a) => redisCommand(redis.port, ...a);
  for (let i = 0; i < 3; i++) t.equal((await publish(s, 'cap', { i })).status, 200);
  const list = [];
  for (let k = 0; k < 12; k++) list.push(['cap', { k }], ['aged', { k }]);
  const before = Date.now();
  const answers = await together(redis, s, list);
  t.same(answers.map((r) => r.status), Array(list.length).fill(200));
  t.equal(await rc('GET', 'indices:cap'), '15');
  t.same(await rc('ZRANGE', 'cap:keys', 0, -1), ['cap:11', 'cap:12', 'cap:13', 'cap:14', 'cap:15'], 'the 5 newest kept');
  t.equal(await rc('EXISTS', 'cap:10'), 0, 'the trimmed event keys are gone');
  t.equal(await metric(s, 'ganomede_events_trimmed_total'), 10, 'every trim counted');
  const score = Number(await rc('ZSCORE', 'ge:retention', 'aged'));
  const first = JSON.parse(await rc('GET', 'aged:1')).timestamp;
  t.equal(score, first + 3600 * 1000, 'listed by its oldest event');
  t.ok(first >= before - 1000, 'the burst\'s first event');
  t.equal(await rc('ZCARD', 'aged:keys'), 12);
});

t.test('with PUBLISH_MIN_REPLICAS a burst is answered once replicas have it, a WAIT per call', T, async (t) => {
  const cluster = await ha.startCluster({ replicas: 1, sentinels: 0 });
  t.teardown(() => cluster.stop());
  const [master, replica] = cluster.nodes.map((n) => n.port);
  const s = await startServer({ redisPort: master, env: { PUBLISH_MIN_REPLICAS: '1' } });
  t.teardown(() => s.stop());
  await redisCommand(master, 'CONFIG', 'RESETSTAT');
  const list = [];
  for (let k = 0; k < 10; k++) list.push(['rep-a', { k }], ['rep-b', { k }]);
  const answers = await together({ port: master }, s, list);
  t.same(answers.map((r) => r.status), Array(list.length).fill(200));
  for (const ch of ['rep-a', 'rep-b']) {
    t.same(sorted(answers.filter((r, i) => list[i][0] === ch).map((r) => r.json.id)), range(10), ch + ': ids contiguous');
    t.equal(await redisCommand(replica, 'GET', 'indices:' + ch), '10', ch + ': every answered event is on the replica');
    t.equal(await redisCommand(replica, 'ZCARD', ch + ':keys'), 10);
    t.equal(await redisCommand(master, 'HGET', 'ge:confirmed', ch), '10', ch + ': confirmed up to its last');
  }
  t.ok(await scriptCalls(master) < list.length, 'the publishes shared script calls');
  t.ok(await calls(master, 'wait') < list.length, 'and WAITs');
});
