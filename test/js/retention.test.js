'use strict';
// Retention (docs/retention.md): per-channel count and age limits, the
// sweep, pattern rules and their validation, indices over trimmed channels,
// and the signals a consumer gets (docs/protocol.md): X-Events-Lost for ids
// trimmed below its cursor, X-Events-Reset for a cursor ahead of the channel.
const t = require('tap');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, startRedis, request, redisCommand, unique, sleep } = require('../lib/harness');

const REDIS = Number(process.env.GE_TEST_REDIS_PORT || 6379);
const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const publish = (s, channel, data) => request(s.url, 'POST', '/events/v1/events',
  { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data });
const get = (s, o) => request(s.url, 'GET', '/events/v1/events?' + q(Object.assign({ secret: s.secret }, o)));
const latest = (s, channel, limit) => request(s.url, 'GET', '/events/v1/latest?' + q({ secret: s.secret, channel, limit }));
const metric = async (s, name) => {
  const r = await request(s.url, 'GET', '/metrics');
  const m = new RegExp('^' + name + ' (\\d+)$', 'm').exec(r.body);
  return m ? Number(m[1]) : NaN;
};

// Publish n events, `width` at a time (bounded: n is at most 10,000 here).
async function publishMany(s, channel, n, width = 16) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const r = await publish(s, channel, { n: next });
      if (r.status !== 200) throw new Error('publish ' + r.status + ' ' + r.body);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
}

// Poll until check() is true or the deadline passes; returns the last value.
async function waitFor(check, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v || Date.now() > deadline) return v;
    await sleep(100);
  }
}

// The whole file: slow under valgrind (10,000 publishes); each test has its own bound.
t.setTimeout(1800000);

const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

t.test('count limit: 10,000 published with a limit of 1,000', { timeout: 300000 }, async (t) => {
  const s = await startServer({ env: { RETENTION_RULES: 'cnt-*=1000', RETENTION_SWEEP_INTERVAL: '1', POLL_TIMEOUT: '1000' } });
  t.teardown(() => s.stop());
  const ch = unique('cnt');
  await publishMany(s, ch, 10000);

  // Redis holds exactly the last 1,000, in keys and in the sorted set; the
  // counter never goes back.
  t.equal(await redisCommand(REDIS, 'GET', 'indices:' + ch), '10000');
  const members = await redisCommand(REDIS, 'ZRANGE', ch + ':keys', 0, -1);
  t.same(members, range(9001, 10000).map((i) => ch + ':' + i));
  const keys = await redisCommand(REDIS, 'KEYS', ch + ':*');
  t.equal(keys.length, 1001, 'the 1,000 events and the sorted set');
  t.equal(await redisCommand(REDIS, 'EXISTS', ch + ':9000'), 0);
  t.equal(await redisCommand(REDIS, 'EXISTS', ch + ':9001'), 1);

  const l = await latest(s, ch, 5000);
  t.same(l.json.map((e) => e.id), range(9001, 10000), 'latest answers what is retained');
  t.ok(await metric(s, 'ganomede_events_trimmed_total') >= 9000, '/metrics counts the trimmed events');

  // A consumer at 0 gets 9,001..10,000, told once that 1-9000 are lost.
  const seen = [], lost = [];
  let after = 0;
  for (let round = 0; round < 50 && after < 10000; round++) {
    const r = await get(s, { clientId: 'c1', channel: ch, after, limit: 100 });
    t.equal(r.status, 200);
    if (r.headers.get('x-events-lost')) lost.push(r.headers.get('x-events-lost'));
    t.equal(r.headers.get('x-events-reset'), null);
    for (const e of r.json) seen.push(e.id);
    after = seen[seen.length - 1];
  }
  t.same(seen, range(9001, 10000));
  t.same(lost, ['1-9000'], 'signalled once');
  // The first GET of a client without after (its stored cursor, none): the same.
  const r = await get(s, { clientId: 'c2', channel: ch, limit: 3 });
  t.same([r.headers.get('x-events-lost'), r.json.map((e) => e.id)], ['1-9000', [9001, 9002, 9003]]);
  t.ok(await metric(s, 'ganomede_events_lost_signalled_total') >= 2);
});

t.test('a consumer inside the retained range is never told of a loss', { timeout: 60000 }, async (t) => {
  const s = await startServer({ env: { RETENTION_MAX_EVENTS: '10', POLL_TIMEOUT: '1000' } });
  t.teardown(() => s.stop());
  const ch = unique('in');
  await publishMany(s, ch, 15, 1);
  for (const after of [5, 6, 10, 14, 15]) {
    const r = await get(s, { clientId: 'c', channel: ch, after, limit: 100 });
    t.equal(r.headers.get('x-events-lost'), null, 'after ' + after);
    t.same(r.json.map((e) => e.id), range(after + 1, 15));
  }
  const r = await get(s, { clientId: 'c', channel: ch, after: 4, limit: 2 });
  t.same([r.headers.get('x-events-lost'), r.json.map((e) => e.id)], ['5-5', [6, 7]]);
});

t.test('age limit: expired events go within the sweep bound, with no further publishes', { timeout: 60000 }, async (t) => {
  const s = await startServer({ env: { RETENTION_RULES: 'age-*=0:2', RETENTION_SWEEP_INTERVAL: '1', POLL_TIMEOUT: '1000' } });
  t.teardown(() => s.stop());
  const ch = unique('age'), other = unique('keep');
  await publishMany(s, ch, 5, 1);
  await publishMany(s, other, 3, 1);
  const t0 = Date.now();
  t.equal(await redisCommand(REDIS, 'ZCARD', ch + ':keys'), 5);
  // 2 s of age plus one sweep interval; generous for valgrind.
  const gone = await waitFor(async () => (await redisCommand(REDIS, 'ZCARD', ch + ':keys')) === 0, 30000);
  t.ok(gone, 'trimmed');
  t.ok(Date.now() - t0 >= 1500, 'not before they were 2 s old');
  t.same(await redisCommand(REDIS, 'KEYS', ch + ':*'), []);
  t.equal(await redisCommand(REDIS, 'GET', 'indices:' + ch), '5', 'the counter stays');
  t.equal(await redisCommand(REDIS, 'ZCARD', other + ':keys'), 3, 'a channel without limits keeps everything');
  t.equal(await redisCommand(REDIS, 'ZSCORE', 'ge:retention', ch), null, 'an empty channel leaves the sweep list');
  t.ok(await metric(s, 'ganomede_events_trimmed_total') >= 5);

  // Publishing again: the new event is kept until it is old, and a consumer
  // behind it is told what it lost.
  await publish(s, ch, { n: 6 });
  const r = await get(s, { clientId: 'c', channel: ch, after: 0 });
  t.same([r.headers.get('x-events-lost'), r.json.map((e) => e.id)], ['1-5', [6]]);
});

t.test('limits lowered while the daemon was down are applied at start, with no publishes', { timeout: 60000 }, async (t) => {
  const ch = unique('low');
  let s = await startServer();
  await publishMany(s, ch, 30, 4);
  await s.stop();
  s = await startServer({ env: { RETENTION_RULES: ch + '=10', RETENTION_SWEEP_INTERVAL: '1' } });
  t.teardown(() => s.stop());
  const ok = await waitFor(async () => (await redisCommand(REDIS, 'ZCARD', ch + ':keys')) === 10, 30000);
  t.ok(ok, 'trimmed to 10');
  t.same(await redisCommand(REDIS, 'ZRANGE', ch + ':keys', 0, -1), range(21, 30).map((i) => ch + ':' + i));
  t.equal(await redisCommand(REDIS, 'EXISTS', ch + ':20'), 0);
});

t.test('rules: the first matching pattern wins, else the defaults', { timeout: 60000 }, async (t) => {
  const p = unique('r');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ge-rules-')), 'rules');
  fs.writeFileSync(file, '# from a file\n' + p + '-file-*=4\n\n');
  const s = await startServer({
    env: {
      RETENTION_RULES: `${p}-game-special=6, ${p}-game-*=3:1h,${p}-*-keep=0`,
      RETENTION_RULES_FILE: file,
      RETENTION_MAX_EVENTS: '5',
    },
  });
  t.teardown(() => s.stop());
  const cases = [[p + '-game-special', 6], [p + '-game-x', 3], [p + '-game-x/y', 3], [p + '-file-a', 4],
    [p + '-a-keep', 12], [p + '-other', 5], ['x' + p + '-game-x', 5]];
  for (const [ch, want] of cases) {
    await publishMany(s, ch, 12, 1);
    t.equal(await redisCommand(REDIS, 'ZCARD', ch + ':keys'), want, ch);
  }
  t.ok(await redisCommand(REDIS, 'ZSCORE', 'ge:retention', p + '-game-x'), 'an age limit lists the channel for the sweep');
});

t.test('invalid retention settings stop the server at start with a clear message', { timeout: 200000 }, async (t) => {
  const cases = [
    [{ RETENTION_RULES: 'game-*' }, /RETENTION_RULES: "game-\*" is not PATTERN=MAX_EVENTS\[:MAX_AGE\]/],
    [{ RETENTION_RULES: 'a=1,=5' }, /RETENTION_RULES: "=5" is not PATTERN/],
    [{ RETENTION_RULES: 'game-*=lots' }, /MAX_EVENTS must be a whole number/],
    [{ RETENTION_RULES: 'game-*=10:3y' }, /MAX_AGE must be seconds or a number with s, m, h or d/],
    [{ RETENTION_RULES: 'game-*=-1' }, /MAX_EVENTS must be a whole number/],
    [{ RETENTION_MAX_EVENTS: 'ten' }, /RETENTION_MAX_EVENTS must be a whole number/],
    [{ RETENTION_MAX_AGE: '1w' }, /RETENTION_MAX_AGE must be seconds/],
    [{ RETENTION_SWEEP_INTERVAL: '0' }, /RETENTION_SWEEP_INTERVAL must be a whole number from 1 to 60/],
    [{ RETENTION_RULES_FILE: '/nonexistent/rules' }, /RETENTION_RULES_FILE \/nonexistent\/rules cannot be read/],
  ];
  for (const [env, message] of cases) {
    const s = await startServer({ env, wait: false });
    const e = await Promise.race([s.exited, sleep(15000).then(() => ({ code: 'still running' }))]);
    if (e.code === 'still running') await s.stop();
    t.equal(e.code, 1, JSON.stringify(env));
    t.match(s.stderr, message, JSON.stringify(env));
  }
});

t.test('indices over a trimmed channel never answer a missing event', { timeout: 60000 }, async (t) => {
  const s = await startServer({ env: { RETENTION_RULES: 'ix-*=5' } });
  t.teardown(() => s.stop());
  const ch = unique('ix'), id = unique('idx');
  const lookup = (value) => request(s.url, 'GET', '/events/v1/indices/' + id + '/' + value + '?secret=' + s.secret);
  t.same((await request(s.url, 'POST', '/events/v1/indices', { secret: s.secret, id, channel: ch, field: 'data.u' })).json, 'OK');
  for (let i = 1; i <= 5; i++) await publish(s, ch, { u: 'bob' });
  let r = await lookup('bob');
  t.same(r.json.rows.map((e) => e.id), [5, 4, 3, 2, 1]);
  for (let i = 6; i <= 8; i++) await publish(s, ch, { u: i === 7 ? 'bob' : 'eve' });
  r = await lookup('bob');
  t.same(r.json.rows.map((e) => e.id), [7, 5, 4], 'only retained events');
  t.same(await redisCommand(REDIS, 'LRANGE', 'index:' + id + ':bob', 0, -1), ['7', '5', '4'], 'trimmed ids dropped from the list');
  r = await lookup('eve');
  t.same(r.json.rows.map((e) => e.id), [8, 6]);
});

t.test('cursor ahead of the channel (FLUSHALL): reset signalled, events from id 1', { timeout: 60000 }, async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const s = await startServer({ redisPort: redis.port, env: { POLL_TIMEOUT: '1500' } });
  t.teardown(() => s.stop());
  const ch = unique('flush');
  await publishMany(s, ch, 8, 1);

  // A long-poll parked at the head when Redis is flushed, then a publish.
  const parked = get(s, { clientId: 'c', channel: ch, after: 8 });
  await sleep(200);
  t.equal(await redisCommand(redis.port, 'FLUSHALL'), 'OK');
  await publish(s, ch, { again: 1 });
  let r = await parked;
  t.same([r.status, r.headers.get('x-events-reset'), r.json.map((e) => e.id)], [200, '1', [1]]);

  // An explicit cursor ahead: answered at once with the events from 1.
  await publish(s, ch, { again: 2 });
  const t0 = Date.now();
  r = await get(s, { clientId: 'c', channel: ch, after: 8, limit: 1 });
  t.same([r.headers.get('x-events-reset'), r.json.map((e) => e.id)], ['2', [1]]);
  t.ok(Date.now() - t0 < 1400, 'without waiting for the poll timeout');
  t.equal(await redisCommand(redis.port, 'GET', 'last-fetched:c:' + ch), '0', 'stored cursor reset');
  // Acknowledging within the channel again: no signal.
  r = await get(s, { clientId: 'c', channel: ch, after: 1 });
  t.same([r.headers.get('x-events-reset'), r.json.map((e) => e.id)], [null, [2]]);

  // A stored cursor ahead (no after): reset too.
  await redisCommand(redis.port, 'SET', 'last-fetched:d:' + ch, '50');
  r = await get(s, { clientId: 'd', channel: ch });
  t.same([r.headers.get('x-events-reset'), r.json.map((e) => e.id)], ['2', [1, 2]]);
  t.equal(await redisCommand(redis.port, 'GET', 'last-fetched:d:' + ch), '0');

  // An empty channel: told with the timeout's [] (no instant answers an
  // old client would spin on).
  await redisCommand(redis.port, 'FLUSHALL');
  r = await get(s, { clientId: 'c', channel: ch, after: 2 });
  t.same([r.status, r.headers.get('x-events-reset'), r.json], [200, '0', []]);
  t.ok(await metric(s, 'ganomede_events_cursor_resets_total') >= 4);
});
