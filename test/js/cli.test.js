'use strict';
// The ganomede-events command-line tool end to end: the real binary
// against the real daemon and Redis. Exit codes (0 ok, 1 server/network,
// 2 usage), stdout JSON lines, stderr messages, acknowledgement in Redis.
const tap = require('tap');
const path = require('node:path');
const { spawnOwned } = require('../lib/procs');
const h = require('../lib/harness');

const T = { timeout: h.limit(60000) };
const CLI = path.join(h.ROOT, h.BUILD, 'ganomede-events');
let server, deadPort;

function start(args, env = {}) {
  const wrap = process.env.GE_WRAP ? process.env.GE_WRAP.split(/\s+/).filter(Boolean) : [];
  const fullEnv = Object.assign({ PATH: process.env.PATH, GANOMEDE_EVENTS_URL: server.url, API_SECRET: h.SECRET }, env);
  for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
  const p = spawnOwned(wrap.length ? wrap[0] : CLI, wrap.length ? wrap.slice(1).concat([CLI], args) : args, { env: fullEnv });
  const r = { proc: p, stdout: '', stderr: '' };
  p.stdout.on('data', (d) => { r.stdout += d; });
  p.stderr.on('data', (d) => { r.stderr += d; });
  const timer = setTimeout(() => p.kill('SIGKILL'), 30000);
  r.done = new Promise((resolve) => p.on('close', (code, signal) => {
    clearTimeout(timer);
    resolve({ code, signal, stdout: r.stdout, stderr: r.stderr });
  }));
  return r;
}
const cli = (args, env) => start(args, env).done;

async function waitFor(cond, ms = 10000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await h.sleep(20);
  }
}

const lines = (s) => s.split('\n').filter(Boolean).map((l) => JSON.parse(l));
const publish = (channel, type = 'T', data) => h.request(server.url, 'POST', '/events/v1/events',
  { secret: h.SECRET, clientId: 'test', channel, from: 'test/v1', type, data });
const lastFetched = (id, ch) => h.redisCommand(h.REDIS_PORT, 'GET', `last-fetched:${id}:${ch}`);

tap.before(async () => {
  server = await h.startServer({ env: { POLL_TIMEOUT: '1000' } });
  deadPort = await h.freePort();
});
tap.teardown(async () => { await server.stop(); });

tap.test('--help prints the interface and exits 0', T, async (t) => {
  for (const args of [['--help'], ['send', '--help'], ['-h']]) {
    const r = await cli(args, { API_SECRET: undefined });
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^Usage: ganomede-events \[--url URL\] \[--secret S\] \[--client-id ID\] \[--timeout MS\] COMMAND \.\.\./);
    for (const s of ['send CHANNEL FROM TYPE [DATA_JSON]', 'listen [--count N] [--exit-on-loss] CHANNEL...', 'latest CHANNEL [LIMIT]',
      'index create ID CHANNEL FIELD', 'index get ID VALUE', 'consumers [--json] CHANNEL', 'GANOMEDE_EVENTS_URL', 'API_SECRET'])
      t.ok(r.stdout.includes(s), s);
  }
});

tap.test('usage errors exit 2 with a message on stderr, nothing on stdout', T, async (t) => {
  const cases = [
    [[], /missing COMMAND/],
    [['frobnicate'], /unknown command/],
    [['--bogus', 'latest', 'c'], /unknown option/],
    [['--url'], /needs a value/],
    [['send', 'c', 'f'], /usage: send/],
    [['send', 'c', 'f', 't', '{}', 'extra'], /usage: send/],
    [['send', '', 'f', 't'], /CHANNEL must not be empty/],
    [['send', 'c', 'f', 't', '"str"'], /DATA_JSON/],
    [['send', 'c', 'f', 't', '{"a":'], /DATA_JSON/],
    [['send', 'c', 'f', 't', 'null'], /DATA_JSON/],
    [['latest'], /usage: latest/],
    [['latest', 'c', '0'], /LIMIT/],
    [['latest', 'c', '12x'], /LIMIT/],
    [['latest', 'c', '-3'], /LIMIT/],
    [['listen'], /usage: listen/],
    [['listen', '--count', '0', 'c'], /--count/],
    [['listen', '--count', 'x', 'c'], /--count/],
    [['listen', '--count'], /--count/],
    [['listen', '--zap', 'c'], /unknown option/],
    [['index'], /usage: index/],
    [['index', 'drop', 'x'], /usage: index/],
    [['index', 'create', 'id', 'ch'], /usage: index create/],
    [['index', 'get', 'id'], /usage: index get/],
    [['consumers'], /usage: consumers/],
    [['consumers', 'a', 'b'], /usage: consumers/],
    [['consumers', '--jsn', 'a'], /usage: consumers/],
    [['consumers', ''], /CHANNEL must not be empty/],
    [['--url', 'ftp://x', 'latest', 'c'], /http:\/\/ or https:\/\//],
    [['--url', 'http://h:99999', 'latest', 'c'], /port/],
    [['--url', 'http://', 'latest', 'c'], /no host/],
    [['--client-id', '', 'latest', 'c'], /client-id/],
    [['--url', 'http://user:pw@127.0.0.1:1', 'latest', 'c'], /user or password/],
    [['--url', 'http://127.0.0.1:1/events/v1?x=1', 'latest', 'c'], /query or fragment/],
    [['--url', 'http://[::1', 'latest', 'c'], /invalid URL/],
    [['--url', 'localhost:8000', 'latest', 'c'], /http:\/\/ or https:\/\//],
    [['--timeout', '0', 'latest', 'c'], /--timeout must be a positive number/],
    [['--timeout', '5s', 'latest', 'c'], /--timeout must be a positive number/],
    [['--timeout'], /--timeout needs a value/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args);
    t.equal(r.code, 2, JSON.stringify(args) + ' ' + r.stderr);
    t.match(r.stderr, re, JSON.stringify(args));
    t.match(r.stderr, /--help/);
    t.equal(r.stdout, '', JSON.stringify(args));
  }
  const r = await cli(['latest', 'c'], { API_SECRET: undefined });
  t.equal(r.code, 2);
  t.match(r.stderr, /secret/);
});

tap.test('send prints the stored event as one JSON line', T, async (t) => {
  const ch = h.unique('cli-send');
  let r = await cli(['send', ch, 'game/v1', 'MOVE', '{"x": 0.1, "big": 123456789012345678901234567890, "s": "é\\n"}']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.split('\n').length, 2);
  t.match(r.stdout, /^\{"id":1,"timestamp":\d+,"type":"MOVE","from":"game\/v1","data":\{"x":0\.1,"big":123456789012345678901234567890,"s":"é\\n"\}\}\n$/);
  r = await cli(['send', ch, 'game/v1', 'END']);
  t.equal(r.code, 0, r.stderr);
  const ev = JSON.parse(r.stdout);
  t.equal(ev.id, 2);
  t.equal(ev.data, undefined);
  const stored = await h.redisCommand(h.REDIS_PORT, 'GET', `${ch}:2`);
  t.strictSame(JSON.parse(stored), ev);
});

tap.test('flags override the environment; --url takes a prefix and --opt=value', T, async (t) => {
  const ch = h.unique('cli-flags');
  let r = await cli(['--url', server.url, '--secret', h.SECRET, 'send', ch, 'f', 't'],
    { GANOMEDE_EVENTS_URL: `http://127.0.0.1:${deadPort}`, API_SECRET: 'wrong' });
  t.equal(r.code, 0, r.stderr);
  r = await cli([`--url=${server.url}/events/v1`, `--secret=${h.SECRET}`, '--client-id=abc', 'latest', ch],
    { GANOMEDE_EVENTS_URL: undefined, API_SECRET: undefined });
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).length, 1);
  r = await cli(['latest', ch], { GANOMEDE_EVENTS_URL: `http://127.0.0.1:${server.port}/events/v1/events/` });
  t.equal(r.code, 0, r.stderr);
});

tap.test('the URL follows the standard: any case of scheme and host, default ports, IPv6 brackets', T, async (t) => {
  const ch = h.unique('cli-url');
  let r = await cli(['send', ch, 'f', 't'], { GANOMEDE_EVENTS_URL: `HTTP://LocalHost:${server.port}/events/v1` });
  t.equal(r.code, 0, r.stderr);
  // An IPv6 literal reaches the engine whole (nothing listens on [::1] here:
  // the error names the address, not a parse failure).
  r = await cli(['latest', ch], { GANOMEDE_EVENTS_URL: `http://[::1]:${deadPort}` });
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /ECONNREFUSED|EADDRNOTAVAIL|ENETUNREACH|Couldn't connect/);
});

tap.test('--timeout MS and GANOMEDE_EVENTS_TIMEOUT bound a request the server never answers', T, async (t) => {
  const net = require('node:net');
  const held = [];
  const silent = net.createServer((sock) => { held.push(sock); });
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { for (const s of held) s.destroy(); silent.close(); });
  const url = `http://127.0.0.1:${silent.address().port}`;
  for (const [args, env] of [[['--timeout', '300', 'latest', 'c'], {}],
    [['send', 'c', 'f', 't'], { GANOMEDE_EVENTS_TIMEOUT: '300' }],
    [['--timeout=300', 'index', 'get', 'i', 'v'], { GANOMEDE_EVENTS_TIMEOUT: '999999' }]]) {
    const t0 = Date.now();
    const r = await cli(args, Object.assign({ GANOMEDE_EVENTS_URL: url }, env));
    t.equal(r.code, 1, JSON.stringify(args) + r.stderr);
    t.match(r.stderr, /ETIMEDOUT/);
    // Never the 60 s default, never a hang (the harness kills at 30 s).
    t.ok(Date.now() - t0 < 25000, `${Date.now() - t0} ms`);
  }
  t.ok(held.length >= 3, 'every request reached the silent server');
});

tap.test('default URL is http://localhost:8000', T, async (t) => {
  // Whatever listens on 8000 (usually nothing), the CLI must go there.
  const r = await cli(['--secret', 'x', 'latest', 'c'], { GANOMEDE_EVENTS_URL: undefined });
  if (r.code === 1) t.match(r.stderr, /localhost|8000|ECONNREFUSED|HTTP/);
  else t.ok([0, 1].includes(r.code));
});

tap.test('server and network errors exit 1 with the message on stderr', T, async (t) => {
  let r = await cli(['--secret', 'wrong', 'send', 'c', 'f', 't']);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^ganomede-events: send: HTTP 401 InvalidCredentialsError: /);
  r = await cli(['latest', 'c'], { GANOMEDE_EVENTS_URL: `http://127.0.0.1:${deadPort}` });
  t.equal(r.code, 1);
  t.match(r.stderr, /ECONNREFUSED/);
  r = await cli(['index', 'get', h.unique('nope'), 'v']);
  t.equal(r.code, 1);
  t.match(r.stderr, /HTTP 404 ResourceNotFound/);
  r = await cli(['latest', 'c'], { GANOMEDE_EVENTS_URL: `${server.url}/elsewhere` });
  t.equal(r.code, 1);
  t.match(r.stderr, /404/);
  r = await cli(['--secret', 'wrong', 'listen', 'c']);
  t.equal(r.code, 1);
  t.match(r.stderr, /401 InvalidCredentialsError/);
  r = await cli(['listen', 'c'], { GANOMEDE_EVENTS_URL: `http://127.0.0.1:${deadPort}` });
  t.equal(r.code, 1);
  t.match(r.stderr, /ECONNREFUSED/);
});

tap.test('latest prints the JSON array', T, async (t) => {
  const ch = h.unique('cli-latest');
  let r = await cli(['latest', ch]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '[]\n');
  for (let i = 0; i < 3; i++) await publish(ch);
  r = await cli(['latest', ch]);
  t.strictSame(JSON.parse(r.stdout).map((e) => e.id), [1, 2, 3]);
  r = await cli(['latest', ch, '2']);
  t.equal(r.code, 0);
  t.strictSame(JSON.parse(r.stdout).map((e) => e.id), [2, 3]);
});

tap.test('consumers prints a table of the channel\'s consumers, --json the server\'s answer', T, async (t) => {
  const ch = h.unique('cli-consumers');
  let r = await cli(['consumers', ch]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^CHANNEL +CLIENT-ID +ACKED-ID +LAST-ID +LAG +LAST-SEEN +OLDEST-UNACKED\n\(no consumer has read /);
  for (let i = 0; i < 4; i++) await publish(ch);
  const read = (clientId, after) => h.request(server.url, 'GET', `/events/v1/events?secret=${h.SECRET}&clientId=${clientId}&channel=${ch}&after=${after}`);
  await read('mailer', 1);
  await read('a-very-long-client-id', 4);
  r = await cli(['consumers', ch]);
  t.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trimEnd().split('\n').map((l) => l.split(/ {2,}/));
  t.same(rows[0], ['CHANNEL', 'CLIENT-ID', 'ACKED-ID', 'LAST-ID', 'LAG', 'LAST-SEEN', 'OLDEST-UNACKED']);
  t.same(rows.slice(1).map((x) => x.slice(0, 5)), [[ch, 'a-very-long-client-id', '4', '4', '0'], [ch, 'mailer', '1', '4', '3']]);
  t.match(rows[2][5], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'last read, UTC');
  t.match(rows[2][6], /^\d+\.\d{3}s$/, 'age of its oldest unacknowledged event');
  t.equal(rows[1][6], '-', 'nothing unacknowledged');
  const text = r.stdout.trimEnd().split('\n');
  const third = (l) => /^\S+ {2,}\S+ {2,}/.exec(l)[0].length; // where the ACKED-ID column starts
  t.same(text.map(third), text.map(() => text[0].indexOf('ACKED-ID')), 'columns aligned');
  r = await cli(['consumers', '--json', ch]);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.same([j.channel, j.last, j.consumers.map((c) => [c.clientId, c.after, c.lag])],
    [ch, 4, [['a-very-long-client-id', 4, 0], ['mailer', 1, 3]]]);
  r = await cli(['consumers', ch], { API_SECRET: 'wrong' });
  t.equal(r.code, 1);
  t.match(r.stderr, /consumers: HTTP 401 InvalidCredentialsError/);
  t.equal(r.stdout, '');
});

tap.test('index create and index get', T, async (t) => {
  const ch = h.unique('cli-index');
  const ix = h.unique('ix');
  await publish(ch, 'JOIN', { user: 'alice' });
  await publish(ch, 'JOIN', { user: 'bob' });
  await publish(ch, 'JOIN', { user: 'alice' });
  let r = await cli(['index', 'create', ix, ch, 'data.user']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '"OK"\n');
  r = await cli(['index', 'create', ix, ch, 'data.user']);
  t.equal(r.stdout, 'null\n');
  r = await cli(['index', 'get', ix, 'alice']);
  t.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  t.equal(got.id, ix);
  t.equal(got.field, 'data.user');
  t.equal(got.value, 'alice');
  t.strictSame(got.rows.map((e) => e.id), [3, 1]);
  r = await cli(['index', 'get', ix, 'nobody']);
  t.strictSame(JSON.parse(r.stdout).rows, []);
});

tap.test('listen --count N prints N events, acknowledges exactly them, and resumes', T, async (t) => {
  const ch = h.unique('cli-listen');
  const id = h.unique('listener');
  for (let i = 0; i < 3; i++) await publish(ch, 'T', { n: i + 1 });
  let r = await cli(['--client-id', id, 'listen', '--count', '2', ch]);
  t.equal(r.code, 0, r.stderr);
  t.strictSame(lines(r.stdout).map((e) => [e.id, e.data.n]), [[1, 1], [2, 2]]);
  // Event 3 came in the same batch but was not printed: not acknowledged.
  t.equal(await lastFetched(id, ch), '2');
  r = await cli(['--client-id', id, 'listen', '--count=1', ch]);
  t.strictSame(lines(r.stdout).map((e) => e.id), [3]);
  t.equal(await lastFetched(id, ch), '3');
  // Another client id starts from the beginning.
  r = await cli(['--client-id', id + '-other', 'listen', '--count', '1', ch]);
  t.strictSame(lines(r.stdout).map((e) => e.id), [1]);
});

tap.test('listen waits for new events, on several channels', T, async (t) => {
  const a = h.unique('cli-a'), b = h.unique('cli-b');
  const id = h.unique('listener');
  const l = start(['--client-id', id, 'listen', '--count', '3', a, b]);
  await h.sleep(300);
  t.equal(l.stdout, '');
  await publish(a, 'A1');
  await publish(b, 'B1');
  await publish(a, 'A2');
  const r = await l.done;
  t.equal(r.code, 0, r.stderr);
  const got = lines(r.stdout).map((e) => e.type).sort();
  t.strictSame(got, ['A1', 'A2', 'B1']);
  t.equal(await lastFetched(id, a), '2');
  t.equal(await lastFetched(id, b), '1');
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  tap.test(`listen exits 0 on ${sig} after acknowledging what it printed`, T, async (t) => {
    const ch = h.unique('cli-sig');
    const id = h.unique('listener');
    const l = start(['--client-id', id, 'listen', ch]);
    await h.sleep(200);
    await publish(ch, 'ONE');
    await publish(ch, 'TWO');
    await waitFor(() => l.stdout.split('\n').length > 2);
    l.proc.kill(sig);
    const t0 = Date.now();
    const r = await l.done;
    t.equal(r.code, 0, r.stderr);
    t.ok(Date.now() - t0 < h.limit(3000), 'exit took too long');
    t.strictSame(lines(r.stdout).map((e) => e.type), ['ONE', 'TWO']);
    t.equal(await lastFetched(id, ch), '2');
    // A restarted listener resumes after them.
    await publish(ch, 'THREE');
    const again = await cli(['--client-id', id, 'listen', '--count', '1', ch]);
    t.strictSame(lines(again.stdout).map((e) => e.type), ['THREE']);
  });
}

tap.test('listen with nothing printed exits at once on SIGINT', T, async (t) => {
  const ch = h.unique('cli-quiet');
  const l = start(['listen', ch]);
  // Signal it once it is really listening (its long-poll is parked), which
  // under valgrind takes much longer than natively.
  const deadline = Date.now() + 20000;
  while ((await h.redisCommand(h.REDIS_PORT, 'PUBSUB', 'NUMSUB', ch))[1] < 1 && Date.now() < deadline) await h.sleep(20);
  l.proc.kill('SIGINT');
  const t0 = Date.now();
  const r = await l.done;
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '');
  t.ok(Date.now() - t0 < h.limit(1000));
});
