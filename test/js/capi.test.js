'use strict';
// The public C API (include/ganomede_events.h) against the real daemon and
// Redis: test/capi/capi_check.c is a TAP program (send, latest, index,
// subscriptions, every error path, unsubscribe with a request in flight,
// ack); this file starts the daemon, runs it and checks its verdict. It
// also runs the examples/ programs, built by `make`.
const tap = require('tap');
const path = require('node:path');
const { spawnOwned } = require('../lib/procs');
const h = require('../lib/harness');

const T = { timeout: h.limit(120000) };
const bin = (p) => path.join(h.ROOT, h.BUILD, p);
let server, deadPort;

// Run a C program (under GE_WRAP, e.g. valgrind, when set).
function run(file, args, env, ms = 90000) {
  return new Promise((resolve) => {
    const wrap = process.env.GE_WRAP ? process.env.GE_WRAP.split(/\s+/).filter(Boolean) : [];
    const cmd = wrap.length ? wrap[0] : file;
    const argv = wrap.length ? wrap.slice(1).concat([file], args) : args;
    const p = spawnOwned(cmd, argv, { env: Object.assign({ PATH: process.env.PATH, GE_TEST_TIME_SCALE: process.env.GE_TEST_TIME_SCALE || '1' }, env) });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), h.limit(ms));
    p.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

function checkTap(t, r, minTests) {
  const failed = r.stdout.split('\n').filter((l) => l.startsWith('not ok'));
  t.strictSame(failed, [], r.stdout + r.stderr);
  const plan = /^1\.\.(\d+)$/m.exec(r.stdout);
  t.ok(plan, 'no TAP plan (crashed?):\n' + r.stdout + r.stderr);
  t.ok(plan && Number(plan[1]) >= minTests, 'only ' + (plan ? plan[1] : 'no') + ' checks ran');
  t.equal(r.code, 0, r.stdout + r.stderr);
}

tap.before(async () => {
  server = await h.startServer({ env: { POLL_TIMEOUT: '1000' } });
  deadPort = await h.freePort();
});
tap.teardown(async () => { await server.stop(); });

tap.test('C API against the daemon (test/capi/capi_check.c)', T, async (t) => {
  const r = await run(bin('capi/capi_check'), [], {
    GE_HOST: '127.0.0.1', GE_PORT: String(server.port), GE_DEAD_PORT: String(deadPort), API_SECRET: h.SECRET,
  });
  checkTap(t, r, 100);
});

tap.test('C API: Redis down gives 503 ServiceUnavailable', T, async (t) => {
  const redis = await h.startRedis();
  const srv = await h.startServer({ redisPort: redis.port });
  try {
    await redis.stop();
    const r = await run(bin('capi/capi_check'), ['503'], {
      GE_HOST: '127.0.0.1', GE_PORT: String(srv.port), API_SECRET: h.SECRET,
    });
    checkTap(t, r, 3);
  } finally {
    await srv.stop();
    await redis.stop();
  }
});

const lines = (s) => s.split('\n').filter(Boolean).map((l) => JSON.parse(l));

tap.test('examples: producer, consumer and the libevent consumer', T, async (t) => {
  const ch = h.unique('example');
  const env = { API_SECRET: h.SECRET };
  const host = ['127.0.0.1', String(server.port)];
  const p = await run(bin('examples/producer'), host.concat([ch, '4']), env);
  t.equal(p.code, 0, p.stderr);
  t.strictSame(lines(p.stdout).map((e) => [e.id, e.type, e.data.n]), [[1, 'TICK', 1], [2, 'TICK', 2], [3, 'TICK', 3], [4, 'TICK', 4]]);

  const id = h.unique('example-consumer');
  const c = await run(bin('examples/consumer'), host.concat([id, ch, '2']), env);
  t.equal(c.code, 0, c.stderr);
  t.strictSame(lines(c.stdout).map((e) => e.id), [1, 2]);
  t.equal(await h.redisCommand(h.REDIS_PORT, 'GET', `last-fetched:${id}:${ch}`), '2');

  // The libevent consumer resumes with the same client id.
  const l = await run(bin('examples/libevent_consumer'), host.concat([id, ch, '2']), env);
  t.equal(l.code, 0, l.stderr);
  t.strictSame(lines(l.stdout).map((e) => e.id), [3, 4]);
  t.equal(await h.redisCommand(h.REDIS_PORT, 'GET', `last-fetched:${id}:${ch}`), '4');

  // It waits on its loop for events published later.
  const later = run(bin('examples/libevent_consumer'), host.concat([id, ch, '1']), env);
  await h.sleep(300);
  await h.request(server.url, 'POST', '/events/v1/events', { secret: h.SECRET, clientId: 'x', channel: ch, from: 'f', type: 'LATE' });
  const r = await later;
  t.equal(r.code, 0, r.stderr);
  t.strictSame(lines(r.stdout).map((e) => [e.id, e.type]), [[5, 'LATE']]);
});
