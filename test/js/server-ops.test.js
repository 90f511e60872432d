'use strict';
// Operating the daemon: start-up errors, logs, signals, WORKERS (a port in
// use, a dead worker replaced, workers that exit with their parent), and
// Redis going away.
const tap = require('tap');
const net = require('node:net');
const fs = require('node:fs');
const { startServer, startRedis, request, unique, sleep, freePort, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const publish = (s, channel) => request(s.url, 'POST', '/events/v1/events',
  { secret: s.secret, clientId: 'ops', channel, from: 'tests', type: 'T' });

tap.test('refuses to start without API_SECRET, with a clear message', T, async (t) => {
  for (const secret of [undefined, '']) {
    const s = await startServer({ env: { API_SECRET: secret }, wait: false });
    const e = await s.exited;
    t.equal(e.code, 1, JSON.stringify(e) + s.stderr);
    t.match(s.stderr, /API_SECRET is not set/);
  }
});

tap.test('refuses an unknown LOG_LEVEL and a bad POLL_TIMEOUT', T, async (t) => {
  let s = await startServer({ env: { LOG_LEVEL: 'LOUD' }, wait: false });
  t.equal((await s.exited).code, 1);
  t.match(s.stderr, /LOG_LEVEL "LOUD"/);
  s = await startServer({ env: { POLL_TIMEOUT: 'soon' }, wait: false });
  t.equal((await s.exited).code, 1);
  t.match(s.stderr, /POLL_TIMEOUT/);
});

tap.test('says so when the port is taken', T, async (t) => {
  const port = await freePort();
  const blocker = net.createServer().listen(port, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  try {
    const s = await startServer({ port, wait: false });
    t.equal((await s.exited).code, 1);
    t.match(s.stderr, /cannot listen on 127\.0\.0\.1:\d+: Address already in use/);
  } finally { blocker.close(); }
});

tap.test('--help and --version', T, async (t) => {
  const { execFileSync } = require('node:child_process');
  const { DAEMON } = require('../lib/harness');
  t.match(execFileSync(DAEMON, ['--version']).toString(), /^ganomede-events-server \d+\.\d+\.\d+/);
  t.match(execFileSync(DAEMON, ['--help']).toString(), /API_SECRET/);
});

tap.test('logs are bunyan JSON lines and never contain the secret', T, async (t) => {
  const s = await startServer({ env: { LOG_LEVEL: 'TRACE' } });
  await request(s.url, 'GET', '/events/v1/latest?' + q({ secret: s.secret, channel: unique() }));
  await request(s.url, 'GET', '/events/v1/latest?' + q({ secret: 'wrong-' + s.secret, channel: 'x' }));
  await request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'c', channel: unique(), from: 'f', type: 't' });
  await s.stop();
  const lines = s.stdout.trim().split('\n');
  t.ok(lines.length >= 3);
  for (const line of lines) {
    const rec = JSON.parse(line);
    for (const k of ['name', 'hostname', 'pid', 'level', 'msg', 'time', 'v']) t.ok(k in rec, k + ' in ' + line);
    t.ok([10, 20, 30, 40, 50, 60].includes(rec.level));
    t.ok(!Number.isNaN(Date.parse(rec.time)));
  }
  t.ok(!s.stdout.includes(s.secret), 'the secret never appears in the logs');
});

tap.test('SIGTERM answers waiting long-polls and exits 0', T, async (t) => {
  const s = await startServer({ env: { POLL_TIMEOUT: '30000' } });
  const ch = unique();
  const waits = [];
  for (let i = 0; i < 5; i++) {
    waits.push(fetch(s.url + '/events/v1/events?' + q({ secret: s.secret, clientId: 'w' + i, channel: ch, after: 0 }))
      .then(async (r) => ({ status: r.status, body: await r.text() })));
  }
  await sleep(300);
  const t0 = Date.now();
  s.proc.kill('SIGTERM');
  const results = await Promise.all(waits);
  t.ok(results.every((r) => r.status === 200 && r.body === '[]'), JSON.stringify(results));
  const e = await s.exited;
  t.equal(e.code, 0);
  t.ok(Date.now() - t0 < limit(5000), 'exits within 5 s');
});

tap.test('Redis away: 503 at once, long-polls answered, recovery without a restart', T, async (t) => {
  const redis = await startRedis();
  const s = await startServer({ redisPort: redis.port, env: { POLL_TIMEOUT: '30000' } });
  try {
    const ch = unique();
    t.equal((await publish(s, ch)).status, 200);
    const waiting = fetch(s.url + '/events/v1/events?' + q({ secret: s.secret, clientId: 'w', channel: ch, after: 1 }))
      .then(async (r) => ({ status: r.status, json: await r.json() }));
    await sleep(200);
    await redis.stop('SIGKILL');
    const w = await waiting;
    t.strictSame([w.status, w.json.code], [503, 'ServiceUnavailable'], 'the waiting long-poll is answered');
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      const r = await publish(s, ch);
      t.strictSame([r.status, r.json.code], [503, 'ServiceUnavailable']);
      t.ok(Date.now() - t0 < limit(1000), '503 comes quickly');
      const g = await request(s.url, 'GET', '/events/v1/events?' + q({ secret: s.secret, clientId: 'w', channel: ch }));
      t.equal(g.status, 503);
    }
    t.equal((await request(s.url, 'GET', '/health')).status, 503);
    const back = await startRedis({ port: redis.port });
    try {
      const t0 = Date.now();
      let r;
      do { r = await publish(s, ch); if (r.status !== 200) await sleep(50); } while (r.status !== 200 && Date.now() - t0 < limit(5000));
      t.equal(r.status, 200, 'publishes again within 5 s of Redis returning');
      t.equal(s.proc.exitCode, null, 'never restarted');
      const waiting2 = fetch(s.url + '/events/v1/events?' + q({ secret: s.secret, clientId: 'w2', channel: ch, after: r.json.id }))
        .then((x) => x.json());
      await sleep(300);
      const r2 = await publish(s, ch);
      t.strictSame((await waiting2).map((e) => e.id), [r2.json.id], 'long-polls work again');
    } finally { await back.stop(); }
  } finally { await s.stop(); await redis.stop(); }
});

tap.test('starts while Redis is down and connects when it appears', T, async (t) => {
  const port = await freePort();
  const s = await startServer({ redisPort: port, waitRedis: false });
  try {
    const r = await publish(s, unique());
    t.equal(r.status, 503);
    const redis = await startRedis({ port });
    try {
      const t0 = Date.now();
      let ok;
      do { ok = (await request(s.url, 'GET', '/health')).status === 200; if (!ok) await sleep(50); } while (!ok && Date.now() - t0 < limit(5000));
      t.ok(ok);
      t.equal((await publish(s, unique())).status, 200);
    } finally { await redis.stop(); }
  } finally { await s.stop(); }
});

async function waitFor(what, fn, ms = 15000) {
  const deadline = Date.now() + limit(ms);
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await sleep(20);
  }
}

// The live (not zombie) child processes of pid.
function childrenOf(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync('/proc/' + d + '/stat', 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid && f[0] !== 'Z') out.push(Number(d));
    } catch (_) { /* gone meanwhile */ }
  }
  return out.sort();
}
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (_) { return false; } };

tap.test('a second WORKERS=2 daemon on a port in use exits 1 with a clear message', T, async (t) => {
  const first = await startServer({ env: { WORKERS: '2' } });
  t.teardown(() => first.stop());
  const second = await startServer({ port: first.port, wait: false, env: { WORKERS: '2' } });
  const timer = setTimeout(() => second.proc.kill('SIGKILL'), limit(20000));
  const e = await second.exited;
  clearTimeout(timer);
  t.equal(e.code, 1, 'exit status 1');
  t.match(second.stderr, /cannot listen on 127\.0\.0\.1:\d+: Address already in use/);
  t.equal((await request(first.url, 'GET', '/health')).status, 200, 'the first one goes on');
});

tap.test('WORKERS: workers exit with their parent, and a dead worker is replaced', T, async (t) => {
  const server = await startServer({ env: { WORKERS: '2', LOG_LEVEL: 'INFO' } });
  t.teardown(() => server.stop('SIGKILL'));
  let workers;
  await waitFor('two workers', async () => (workers = childrenOf(server.proc.pid)).length === 2);

  process.kill(workers[0], 'SIGKILL');
  // New connections meanwhile are not reset: the dead worker's socket stays
  // open in the parent and its queue waits for the replacement.
  const getStatus = (url) => new Promise((resolve, reject) => {
    require('node:http').get(url, { agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); })
      .on('error', reject);
  });
  const statuses = await Promise.all(Array.from({ length: 20 }, () =>
    getStatus(server.url + '/events/v1/ping/w').catch((e) => e.code)));
  t.same(statuses, Array(20).fill(200), 'every connection made while a worker was down is served');
  await waitFor('a replacement worker', async () => {
    const now = childrenOf(server.proc.pid);
    return now.length === 2 && !now.includes(workers[0]);
  });
  t.ok(alive(server.proc.pid), 'the parent lives on');
  t.match(server.stdout, /worker 0 died of signal 9/);
  t.equal((await request(server.url, 'GET', '/health')).status, 200, 'still serving');

  workers = childrenOf(server.proc.pid);
  server.proc.kill('SIGKILL');
  await server.exited;
  await waitFor('the workers to exit', async () => workers.every((p) => !alive(p)));
  t.pass('no orphan worker keeps serving');
  const closed = await new Promise((resolve) => {
    const s = net.connect(server.port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
  t.ok(closed, 'the port is closed');
});
