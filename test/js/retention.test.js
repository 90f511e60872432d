'use strict';
// Retention (docs/retention.md): per-channel count and age limits, the
// sweep, pattern rules and their validation, indices over trimmed channels,
// and the signals a consumer gets (docs/protocol.md): X-Events-Lost for ids
// trimmed below its cursor, X-Events-Reset for a cursor ahead of the channel.
const t = require('tap');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, startRedis, request, redisCommand, unique, sleep, REDIS_PORT } = require('../lib/harness');

const REDIS = REDIS_PORT;
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

// The rules file example of docs/retention.md, as the doc shows it.
function docExampleRules() {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'retention.md'), 'utf8');
  const m = /Or, in a file[^]*?\n```\n([^]*?)```\n/.exec(doc);
  if (!m) throw new Error('docs/retention.md has no rules-file example');
  return m[1];
}
const rulesFile = (text) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ge-rules-')), 'rules');
  fs.writeFileSync(file, text);
  return file;
};
// The rules the start-up log lists, without the defaults: ["pattern=events:ages", ...].
const loggedRules = (s) => {
  const line = s.stdout.split('\n').find((l) => /"msg":"retention \(max events:max age\): /.test(l));
  if (!line) return null;
  return JSON.parse(line).msg.replace(/^retention \(max events:max age\): /, '').split(', ').filter((r) => !r.startsWith('default='));
};
// The daemon's own lines on stderr (valgrind's "==pid==" lines aside).
const daemonLines = (stderr) => stderr.split('\n').filter((l) => l && !/^==\d+==/.test(l));

t.test('rules file: a comment line never holds a rule, whatever it contains', { timeout: 120000 }, async (t) => {
  await t.test('the example file of docs/retention.md starts and applies exactly its rules', async (t) => {
    const text = docExampleRules();
    const s = await startServer({ env: { RETENTION_RULES_FILE: rulesFile(text), LOG_LEVEL: 'INFO' } });
    t.teardown(() => s.stop());
    const want = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')).map((l) => {
      const eq = l.lastIndexOf('=');
      return l.slice(0, eq).trim() + '=' + l.slice(eq + 1).trim().split(':')[0];
    });
    t.same(want, ['game/*/moves=1000', 'users/*=0', 'audit/*=0'], 'the example is the one described');
    t.same((loggedRules(s) || []).map((r) => r.replace(/:\d+s$/, '')), want, 'the start-up log lists its rules, no more');
    const u = unique('doc');
    const game = 'game/' + u + '/moves', user = 'users/' + u, audit = 'audit/' + u;
    await publishMany(s, game, 1003);
    t.equal(await redisCommand(REDIS, 'ZCARD', game + ':keys'), 1000, game + ' keeps its last 1,000');
    t.ok(await redisCommand(REDIS, 'ZSCORE', 'ge:retention', game), 'and has an age limit');
    await publishMany(s, user, 3, 1);
    t.equal(await redisCommand(REDIS, 'ZCARD', user + ':keys'), 3);
    t.ok(await redisCommand(REDIS, 'ZSCORE', 'ge:retention', user), user + ' has an age limit');
    await publishMany(s, audit, 3, 1);
    t.equal(await redisCommand(REDIS, 'ZSCORE', 'ge:retention', audit), null, audit + ' keeps everything');
  });

  await t.test('commas, rules and indentation inside a comment stay comment', async (t) => {
    const u = unique('cm');
    const file = rulesFile([
      '# disabled for now: audit/*=0, cm/*=2',
      '   # indented: cm/*=2, cm/*=3',
      '\t#cm/*=2',
      u + '-live=3',
      '',
    ].join('\n'));
    const s = await startServer({ env: { RETENTION_RULES_FILE: file, LOG_LEVEL: 'INFO' } });
    t.teardown(() => s.stop());
    t.same(loggedRules(s), [u + '-live=3:0s'], 'only the rule outside the comments');
    await publishMany(s, 'cm/' + u, 5, 1);
    t.equal(await redisCommand(REDIS, 'ZCARD', 'cm/' + u + ':keys'), 5, 'cm/... keeps all its events');
    await publishMany(s, u + '-live', 5, 1);
    t.equal(await redisCommand(REDIS, 'ZCARD', u + '-live:keys'), 3);
  });

  await t.test('# elsewhere than at the start of a line is part of a pattern', async (t) => {
    const u = unique('hash');
    const file = rulesFile(['room/#' + u + '=2', 'x' + u + '=1, #' + u + '=3', ',#top-' + u + '=4', ''].join('\n'));
    const s = await startServer({ env: { RETENTION_RULES_FILE: file, LOG_LEVEL: 'INFO' } });
    t.teardown(() => s.stop());
    t.same(loggedRules(s), ['room/#' + u + '=2:0s', 'x' + u + '=1:0s', '#' + u + '=3:0s', '#top-' + u + '=4:0s']);
    for (const [ch, want] of [['room/#' + u, 2], ['#' + u, 3], ['#top-' + u, 4]]) {
      await publishMany(s, ch, 6, 1);
      t.equal(await redisCommand(REDIS, 'ZCARD', ch + ':keys'), want, ch);
    }
  });
});

t.test('rules file: what it may hold besides rules', { timeout: 120000 }, async (t) => {
  const u = unique('bom');
  // A byte-order mark, CRLF line ends, and exactly 1 MiB in all.
  let text = '\ufeff' + u + '-first=2\r\n# comment\r\n' + u + '-second=3\r\n';
  const pad = 1024 * 1024 - Buffer.byteLength(text);
  text += '#'.repeat(pad - 1) + '\n';
  t.equal(Buffer.byteLength(text), 1024 * 1024);
  const s = await startServer({ env: { RETENTION_RULES_FILE: rulesFile(text), LOG_LEVEL: 'INFO' } });
  t.teardown(() => s.stop());
  t.same(loggedRules(s), [u + '-first=2:0s', u + '-second=3:0s']);
  for (const [ch, want] of [[u + '-first', 2], [u + '-second', 3]]) {
    await publishMany(s, ch, 5, 1);
    t.equal(await redisCommand(REDIS, 'ZCARD', ch + ':keys'), want, ch);
  }
});

t.test('rules file: one it cannot use stops the server with one line naming it', { timeout: 200000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-rules-'));
  const f = (name, content) => { const p = path.join(dir, name); fs.writeFileSync(p, content); return p; };
  const big = f('big', ('#'.repeat(1023) + '\n').repeat(1024) + 'x=1\n');
  const cases = [
    [dir, /^RETENTION_RULES_FILE \S+ cannot be read: Is a directory$/],
    ['/nonexistent/rules', /^RETENTION_RULES_FILE \/nonexistent\/rules cannot be read: No such file or directory$/],
    [f('nul', 'a-x=1\nb-x=2\0c-x=3\nd-x=4\n'), /^RETENTION_RULES_FILE \S+ line 2: a NUL byte/],
    [big, /^RETENTION_RULES_FILE \S+ is larger than 1 MiB$/],
    ['/dev/zero', /^RETENTION_RULES_FILE \/dev\/zero is larger than 1 MiB$/],
    [f('bad', '# ok\na-x=1\ngame-*\n'), /^RETENTION_RULES_FILE \S+ line 3: "game-\*" is not PATTERN=MAX_EVENTS\[:MAX_AGE\]$/],
    [f('age', 'a-x=1\r\n\r\nb-x=1:3y\r\n'), /^RETENTION_RULES_FILE \S+ line 3: in "b-x=1:3y", MAX_AGE must be/],
    [f('trailing', 'a-x=1 # a note\n'), /^RETENTION_RULES_FILE \S+ line 1: in "a-x=1 # a note", MAX_EVENTS must be a whole number/],
  ];
  if (process.getuid && process.getuid() !== 0) {
    const p = f('secret', 'a=1\n');
    fs.chmodSync(p, 0);
    cases.push([p, /^RETENTION_RULES_FILE \S+ cannot be read: Permission denied$/]);
  } else {
    t.comment('running as root: an unreadable file cannot be made');
  }
  for (const [file, message] of cases) {
    const s = await startServer({ env: { RETENTION_RULES_FILE: file }, wait: false });
    const e = await Promise.race([s.exited, sleep(15000).then(() => ({ code: 'still running' }))]);
    if (e.code === 'still running') await s.stop();
    t.same([e.code, e.signal], [1, null], file + ': exit status 1');
    const lines = daemonLines(s.stderr);
    t.equal(lines.length, 1, file + ': one line on stderr');
    t.match((lines[0] || '').replace(/^ganomede-events-server: /, ''), message, file);
  }
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
