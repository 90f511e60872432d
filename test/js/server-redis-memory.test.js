'use strict';
// Redis out of memory or evicting, with private redis-servers of their own
// maxmemory and maxmemory-policy: an acknowledgement is stored or answered
// with an error (503 StorageFull), a publish into a full Redis is a clear
// 503 counted in /metrics and seen by /health, an evicting policy is
// refused (unless REDIS_ALLOW_EVICTION=1), and events whose keys are gone
// are reported lost (X-Events-Lost), never skipped.
const t = require('tap');
const h = require('../lib/client-harness');
const ha = require('../lib/ha-cluster');

const { startServer, startRedis, request, redisCommand, unique, limit, sleep } = h;
const T = { timeout: limit(90000) };

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const publish = (s, channel, data) => request(s.url, 'POST', '/events/v1/events',
  { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data });
const get = (s, o) => request(s.url, 'GET', '/events/v1/events?' + q(Object.assign({ secret: s.secret }, o)));
const health = async (s) => request(s.url, 'GET', '/health').catch(() => ({ status: 0 }));
const metric = async (s, name) => {
  const r = await request(s.url, 'GET', '/metrics');
  const m = new RegExp('^' + name + ' (\\d+)$', 'm').exec(r.body);
  return m ? Number(m[1]) : NaN;
};
const used = async (port) => Number(/used_memory:(\d+)/.exec(await redisCommand(port, 'INFO', 'memory'))[1]);

async function publishN(s, channel, n) {
  for (let i = 1; i <= n; i++) {
    const r = await publish(s, channel, { n: i });
    if (r.status !== 200) throw new Error('publish ' + i + ': ' + r.status + ' ' + r.body);
  }
}

// Give Redis a maxmemory just above what it holds, then publish padded
// events on a channel of their own until one is refused; returns that
// answer. Redis then refuses every write (noeviction, the default). At the
// limit a closing connection frees enough for one more write: maxmemory
// then goes below what it holds, so that the test sees a Redis that stays
// full.
async function fill(t, redis, s) {
  await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory', String((await used(redis.port)) + 64 * 1024));
  const ch = unique('fill');
  for (let i = 0; i < 5000; i++) {
    const r = await publish(s, ch, { pad: 'x'.repeat(1000) });
    if (r.status !== 200) {
      await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory', String((await used(redis.port)) - 128 * 1024));
      await t.rejects(redisCommand(redis.port, 'SET', 'ge-test-probe', '1'), /OOM/, 'Redis refuses writes');
      return r;
    }
  }
  throw new Error('Redis never filled up');
}
const unfill = (redis) => redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory', '0');

// A private Redis and a daemon on it, both stopped at the test's end.
async function stack(t, serverEnv = {}, redisSetup = []) {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  for (const cmd of redisSetup) await redisCommand(redis.port, ...cmd);
  const s = await startServer({ redisPort: redis.port, env: Object.assign({ POLL_TIMEOUT: '500' }, serverEnv) });
  t.teardown(() => s.stop());
  return { redis, s };
}

t.test('Redis full: an acknowledgement is stored or answered 503 StorageFull, never a silent 200', T, async (t) => {
  const { redis, s } = await stack(t);
  const ch = unique();
  await publishN(s, ch, 60);
  await fill(t, redis, s);
  for (const lim of [10, 200]) { // the range read and the scripted read
    const r = await get(s, { clientId: 'r', channel: ch, after: 50, limit: lim });
    t.equal(r.status, 503, 'limit ' + lim + ': 503, not the events');
    t.same(r.json, { code: 'StorageFull', message: 'Redis is out of memory (maxmemory)' }, 'limit ' + lim);
  }
  t.equal(await redisCommand(redis.port, 'GET', 'last-fetched:r:' + ch), null, 'nothing stored, nothing answered');
  t.match(s.stdout, /"level":40,"clientId":"r","channel":"[^"]+","after":50,"msg":"acknowledgement not stored/, 'each refused acknowledgement is logged');
  // Reading without an acknowledgement writes nothing: it still works.
  const plain = await get(s, { clientId: 'r', channel: ch, limit: 5 });
  t.equal(plain.status, 200);
  t.same(plain.json.map((e) => e.id), [1, 2, 3, 4, 5]);
  await unfill(redis);
  const ok = await get(s, { clientId: 'r', channel: ch, after: 50, limit: 10 });
  t.equal(ok.status, 200, 'once Redis has room');
  t.same(ok.json.map((e) => e.id), [51, 52, 53, 54, 55, 56, 57, 58, 59, 60]);
  t.equal(await redisCommand(redis.port, 'GET', 'last-fetched:r:' + ch), '50', 'the acknowledgement is stored');
});

t.test('Redis full: a publish gets 503 StorageFull, /metrics counts it, /health says why', T, async (t) => {
  const { redis, s } = await stack(t);
  const refused = await fill(t, redis, s);
  t.equal(refused.status, 503);
  t.same(refused.json, { code: 'StorageFull', message: 'Redis is out of memory (maxmemory)' }, 'no script text from Redis');
  const again = await publish(s, unique());
  t.equal(again.status, 503);
  t.equal(again.json.code, 'StorageFull');
  const ix = await request(s.url, 'POST', '/events/v1/indices', { secret: s.secret, id: unique('ix'), channel: 'c', field: 'data.x' });
  t.same([ix.status, ix.json.code], [503, 'StorageFull'], 'defining an index too');
  t.ok(await metric(s, 'ganomede_events_storage_full_total') >= 3, 'counted in /metrics');
  t.equal(await metric(s, 'ganomede_events_redis_writable'), 0, 'the gauge says Redis refuses writes');
  const hl = await health(s);
  t.equal(hl.status, 503, '/health is not healthy');
  t.equal(hl.json.status, 'unavailable');
  t.equal(hl.json.redis.writes, false);
  t.match(hl.json.reason, /out of memory \(maxmemory\)/, 'and says why: ' + hl.json.reason);
  t.match(s.stdout, /"level":50,.*Redis is out of memory \(maxmemory\)/, 'logged as an error');
  t.equal(s.stdout.split('\n').filter((l) => /Redis is out of memory/.test(l)).length, 1, 'once, not once a request');
  // Room again: /health sees it without any write being tried.
  await unfill(redis);
  await ha.until(async () => (await health(s)).status === 200, 5000, '/health to recover');
  t.equal((await health(s)).json.redis.writes, true);
  t.equal(await metric(s, 'ganomede_events_redis_writable'), 1);
  t.equal((await publish(s, unique())).status, 200, 'publishing works again');
});

t.test('a Node client reading while Redis is full gets every event once and stores its cursor', T, async (t) => {
  const { redis, s } = await stack(t);
  const ch = unique();
  const N = 300, LIMIT = 50;
  await publishN(s, ch, N);
  await fill(t, redis, s);
  const client = new h.Client('node', { secret: s.secret, hostname: '127.0.0.1', port: s.port, limit: LIMIT });
  t.teardown(() => client.close());
  const ids = [];
  const errors = [];
  client.on('error', (err) => errors.push(err));
  client.on(ch, (e) => ids.push(e.id));
  await ha.until(async () => errors.filter((e) => e.statusCode === 503 && e.restCode === 'StorageFull').length >= 2,
    10000, 'the client to be refused twice');
  const handed = ids.length;
  const stored = Number(await redisCommand(redis.port, 'GET', 'last-fetched:node:' + ch) || 0);
  t.ok(handed <= stored + LIMIT, 'while full, at most one batch beyond the stored cursor (' + handed +
    ' handed, cursor ' + stored + ')');
  await unfill(redis);
  await ha.until(async () => ids.length >= N, 20000, 'every event');
  t.same(ids, Array.from({ length: N }, (_, i) => i + 1), 'each event once, in order');
  await ha.until(async () => (await redisCommand(redis.port, 'GET', 'last-fetched:node:' + ch)) === String(N),
    10000, 'the cursor to be stored');
  t.pass('cursor stored: ' + N + '; errors seen: ' + errors.map((e) => e.statusCode + ' ' + (e.restCode || e.code)).join(', '));
});

t.test('an evicting maxmemory-policy is a start-up error', T, async (t) => {
  for (const workers of ['1', '2']) {
    const redis = await startRedis();
    try {
      await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
      const s = await startServer({ redisPort: redis.port, wait: false, env: { WORKERS: workers } });
      const e = await Promise.race([s.exited, sleep(limit(5000)).then(() => 'running')]);
      if (e === 'running') await s.stop();
      t.same(e, { code: 1, signal: null }, 'WORKERS=' + workers + ': exit 1');
      t.match(s.stderr, /maxmemory-policy allkeys-lru.*REDIS_ALLOW_EVICTION=1/, 'one clear line: ' + s.stderr.trim());
      const fatal = s.stdout.split('\n').filter((l) => /"level":60,.*allkeys-lru/.test(l)).length;
      if (workers === '1') t.equal(fatal, 1, 'one fatal log line');
      else t.ok(fatal >= 1 && fatal <= 2, 'a fatal log line from the workers that met it: ' + fatal);
    } finally { await redis.stop(); }
  }
});

t.test('noeviction and volatile-* policies are served (events have no TTL)', T, async (t) => {
  for (const policy of ['noeviction', 'volatile-lru', 'volatile-ttl']) {
    const redis = await startRedis();
    try {
      await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory-policy', policy);
      const s = await startServer({ redisPort: redis.port });
      try {
        t.equal((await publish(s, unique())).status, 200, policy);
        t.notOk(/evict/i.test(s.stdout), policy + ': nothing said about eviction');
      } finally { await s.stop(); }
    } finally { await redis.stop(); }
  }
});

t.test('REDIS_ALLOW_EVICTION=1 serves an evicting Redis and says what it costs', T, async (t) => {
  const { s } = await stack(t, { REDIS_ALLOW_EVICTION: '1' }, [['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lfu']]);
  t.equal((await publish(s, unique())).status, 200);
  t.equal((await health(s)).status, 200);
  t.match(s.stdout, /"level":40,.*maxmemory-policy allkeys-lfu.*REDIS_ALLOW_EVICTION/, 'a warning');
  const bad = await startServer({ wait: false, env: { REDIS_ALLOW_EVICTION: 'yes' } });
  const e = await Promise.race([bad.exited, sleep(limit(5000)).then(() => 'running')]);
  if (e === 'running') await bad.stop();
  t.equal(e.code, 1, 'a value other than 0 or 1 is a start-up error');
  t.match(bad.stderr, /REDIS_ALLOW_EVICTION/);
});

t.test('a reconnect that meets an evicting policy refuses to serve until it is fixed', T, async (t) => {
  const { redis, s } = await stack(t, { LOG_LEVEL: 'INFO' });
  t.equal((await publish(s, unique())).status, 200);
  await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-random');
  await redisCommand(redis.port, 'CLIENT', 'KILL', 'TYPE', 'normal');
  await redisCommand(redis.port, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
  await ha.until(async () => /allkeys-random/.test((await health(s)).json?.reason || ''), 5000, '/health to refuse');
  const hl = await health(s);
  t.equal(hl.status, 503);
  t.match(hl.json.reason, /maxmemory-policy allkeys-random/, '/health says why: ' + hl.json.reason);
  const r = await publish(s, unique());
  t.equal(r.status, 503, 'requests are refused');
  t.match(r.json.message, /maxmemory-policy allkeys-random/, 'saying why');
  t.equal(s.proc.exitCode, null, 'the daemon keeps running');
  await sleep(1500); // a few reconnects
  t.equal(s.stdout.split('\n').filter((l) => /"level":50,.*maxmemory-policy allkeys-random/.test(l)).length, 1,
    'said once, not once per reconnect');
  await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await ha.until(async () => (await health(s)).status === 200, 5000, 'the daemon to serve again');
  t.equal((await publish(s, unique())).status, 200);
});

t.test('with Sentinel the policy checked is the master\'s, after a failover too', { timeout: limit(120000) }, async (t) => {
  const cluster = await ha.startCluster({ replicas: 1, sentinels: 1, quorum: 1 });
  t.teardown(() => cluster.stop());
  const [master, replica] = cluster.nodes;
  await redisCommand(replica.port, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
  const s = await startServer({ env: { REDIS_SENTINELS: cluster.sentinelList(), LOG_LEVEL: 'INFO' } });
  t.teardown(() => s.stop());
  t.equal((await publish(s, unique())).status, 200, 'an evicting replica does not matter');
  await ha.until(async () => (await redisCommand(cluster.sentinels[0].port, 'SENTINEL', 'FAILOVER', ha.MASTER)
    .catch((e) => e)) === 'OK', 20000, 'Sentinel to accept a failover');
  await ha.until(async () => (await cluster.masterPort()) === replica.port, 20000, 'the failover');
  await ha.until(async () => /maxmemory-policy allkeys-lru/.test((await health(s)).json?.reason || ''), 20000,
    'the daemon to refuse the new master');
  t.equal((await publish(s, unique())).status, 503, 'not served');
  t.equal(s.proc.exitCode, null, 'still running');
  await redisCommand(replica.port, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await ha.until(async () => (await health(s)).status === 200, 10000, 'the daemon to serve the new master');
  t.equal((await publish(s, unique())).status, 200);
  t.ok(master.port !== replica.port);
});

// Ids of a channel read from `after` 0 to its end: the events and the
// ranges reported lost.
async function readAll(s, channel, lim, last) {
  const got = [], lost = [];
  let after = 0;
  for (let round = 0; after < last && round < 10000; round++) {
    const r = await get(s, { clientId: 'walk', channel, after, limit: lim });
    if (r.status !== 200) throw new Error('read ' + r.status + ' ' + r.body);
    const l = r.headers.get('x-events-lost');
    if (l) {
      const [a, b] = l.split('-').map(Number);
      if (a !== after + 1) throw new Error('a lost range must start after the cursor: ' + l + ' after ' + after);
      lost.push([a, b]);
      after = b;
    }
    for (const e of r.json) {
      got.push(e.id);
      after = e.id;
    }
    if (!l && r.json.length === 0) break; // nothing more is answered: what is left was skipped
  }
  return { got, lost };
}

function accounted(t, got, lost, last, what) {
  const seen = new Map();
  for (const id of got) seen.set(id, (seen.get(id) || 0) + 1);
  let lostCount = 0;
  for (const [a, b] of lost) for (let id = a; id <= b; id++) { seen.set(id, (seen.get(id) || 0) + 1); lostCount++; }
  const missing = [], twice = [];
  for (let id = 1; id <= last; id++) {
    const n = seen.get(id) || 0;
    if (n === 0) missing.push(id);
    if (n > 1) twice.push(id);
  }
  t.same(missing, [], what + ': no id skipped silently');
  t.same(twice, [], what + ': no id both received and lost');
  return lostCount;
}

t.test('events whose keys are gone are reported lost, never skipped', T, async (t) => {
  const s = await startServer({ env: { POLL_TIMEOUT: '300' } });
  t.teardown(() => s.stop());
  const ch = unique();
  await publishN(s, ch, 20);
  // As an eviction leaves them: keys gone, ids still in <channel>:keys.
  for (const id of [5, 6, 7, 8, 9, 15, 20]) await redisCommand(h.REDIS_PORT, 'DEL', ch + ':' + id);
  for (const lim of [100, 1000]) { // the range read and the scripted read
    const ids = (r) => r.json.map((e) => e.id);
    let r = await get(s, { clientId: 'c' + lim, channel: ch, after: 0, limit: lim });
    t.same([ids(r), r.headers.get('x-events-lost')], [[1, 2, 3, 4], null], lim + ': up to the hole');
    r = await get(s, { clientId: 'c' + lim, channel: ch, after: 4, limit: lim });
    t.same([ids(r), r.headers.get('x-events-lost')], [[10, 11, 12, 13, 14], '5-9'], lim + ': the hole is lost');
    r = await get(s, { clientId: 'c' + lim, channel: ch, limit: lim }); // from the stored cursor (4)
    t.same([ids(r), r.headers.get('x-events-lost')], [[10, 11, 12, 13, 14], '5-9'], lim + ': from the stored cursor');
    r = await get(s, { clientId: 'c' + lim, channel: ch, after: 14, limit: lim });
    t.same([ids(r), r.headers.get('x-events-lost')], [[16, 17, 18, 19], '15-15'], lim + ': one lost');
    r = await get(s, { clientId: 'c' + lim, channel: ch, after: 19, limit: lim });
    t.same([ids(r), r.headers.get('x-events-lost')], [[], '20-20'], lim + ': the last one lost, told at the timeout');
  }
});

// allkeys-lfu: the counter and the sorted set, used by every publish, stay
// (allkeys-lru's clock counts seconds: it evicts counters too, and their
// ids are given again, the cost README's Configuration names).
t.test('an evicting Redis allowed by REDIS_ALLOW_EVICTION: every evicted event is reported lost', T, async (t) => {
  const { redis, s } = await stack(t, { REDIS_ALLOW_EVICTION: '1' }, [['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lfu']]);
  await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory', String((await used(redis.port)) + 1024 * 1024));
  const ch = unique();
  const N = 2500;
  for (let i = 1; i <= N; i++) {
    const r = await publish(s, ch, { pad: 'x'.repeat(1000) });
    if (r.status !== 200) throw new Error('publish ' + r.status + ' ' + r.body);
  }
  const evicted = Number(/evicted_keys:(\d+)/.exec(await redisCommand(redis.port, 'INFO', 'stats'))[1]);
  t.ok(evicted > 100, evicted + ' keys evicted');
  t.equal(await redisCommand(redis.port, 'GET', 'indices:' + ch), String(N), 'the counter survived');
  for (const lim of [100, 1000]) {
    const { got, lost } = await readAll(s, ch, lim, N);
    const n = accounted(t, got, lost, N, 'limit ' + lim);
    t.ok(n > 0, 'limit ' + lim + ': ' + got.length + ' read, ' + n + ' reported lost in ' + lost.length + ' ranges');
  }
});
