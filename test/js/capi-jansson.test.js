'use strict';
// The jansson accessors of the C library (include/ganomede_events_jansson.h)
// against the real daemon and Redis: test/capi/jansson_check.c is a TAP
// program; this file starts the daemon, runs it and checks its verdict,
// then runs examples/jansson_relay.c end to end.
const t = require('tap');
const path = require('node:path');
const { spawnOwned } = require('../lib/procs');
const h = require('../lib/harness');

const bin = (p) => path.join(h.ROOT, h.BUILD, p);

// Run a C program (under GE_WRAP, e.g. valgrind, when set); killed after limit(ms).
function run(file, args, env, ms = 60000) {
  return new Promise((resolve) => {
    const wrap = process.env.GE_WRAP ? process.env.GE_WRAP.split(/\s+/).filter(Boolean) : [];
    const cmd = wrap.length ? wrap[0] : file;
    const argv = wrap.length ? wrap.slice(1).concat([file], args) : args;
    const p = spawnOwned(cmd, argv, { env: Object.assign({ PATH: process.env.PATH }, env) });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), h.limit(ms));
    p.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

t.test('jansson accessors', { timeout: h.limit(120000) }, async (t) => {
  const server = await h.startServer({ env: { POLL_TIMEOUT: '1000' } });
  t.teardown(() => server.stop());

  t.test('test/capi/jansson_check.c against the daemon', { timeout: h.limit(60000) }, async (t) => {
    const r = await run(bin('capi/jansson_check'), [],
      { GE_HOST: '127.0.0.1', GE_PORT: String(server.port), API_SECRET: h.SECRET });
    const failed = r.stdout.split('\n').filter((l) => l.startsWith('not ok'));
    const plan = /^1\.\.(\d+)$/m.exec(r.stdout);
    const fine = failed.length === 0 && plan && Number(plan[1]) >= 40 && r.code === 0;
    t.ok(fine, 'every check passed, all ran, exit 0');
    if (!fine) t.comment(r.stdout + r.stderr);
  });

  t.test('examples/jansson_relay: reads data as json_t, publishes json_t', { timeout: h.limit(60000) }, async (t) => {
    const src = h.unique('relay-in'), dst = h.unique('relay-out');
    const pub = async (data) => {
      const body = `{"secret":"${h.SECRET}","clientId":"test","channel":"${src}","from":"t","type":"T","data":${data}}`;
      const res = await h.request(server.url, 'POST', '/events/v1/events', body, { 'content-type': 'application/json' });
      t.equal(res.status, 200, 'published');
    };
    await pub('{"a":1}');
    await pub('{"big":123456789012345678901234567890}'); // jansson cannot hold it: skipped
    await pub('["x"]');
    const r = await run(bin('examples/jansson_relay'), ['127.0.0.1', String(server.port), 'relay1', src, dst, '3'],
      { API_SECRET: h.SECRET }, 30000);
    t.equal(r.code, 0, 'relay exits 0');
    if (r.code !== 0) t.comment(r.stderr);
    const out = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    // The relay sends each event as it reads it, without waiting for the
    // previous answer: the two answers may come in either order.
    const relayed = out.map((e) => JSON.stringify(e.data)).sort();
    t.same(relayed, [JSON.stringify(['x', 'relay1']), JSON.stringify({ a: 1, relayed_by: 'relay1' })].sort(), 'the relayed data');
    t.match(r.stderr, /skipped: .*cannot be represented by jansson/, 'the unrepresentable one is reported');
    const latest = await h.request(server.url, 'GET', `/events/v1/latest?secret=${h.SECRET}&channel=${dst}`);
    t.same(latest.json.map((e) => e.data.relayed_by || e.data[1]), ['relay1', 'relay1'], 'both relayed events stored');
  });
});
