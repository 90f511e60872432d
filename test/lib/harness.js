'use strict';
// Test harness: starts real processes (the daemon, and Redis when a test
// needs one of its own) on free loopback ports, and stops them at the end.
// scripts/test.sh starts one shared Redis and exports GE_TEST_REDIS_PORT;
// tests that need a private Redis (to stop and restart it) call startRedis().
const { spawnOwned } = require('./procs');
const net = require('node:net');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD = process.env.GE_BUILD || 'out';
const DAEMON = path.join(ROOT, BUILD, 'ganomede-events-server');
const SECRET = 'test-secret-' + process.pid;
// The Redis the tests share (GE_TEST_REDIS_PORT, which scripts/test.sh
// exports): the one place for its default.
const REDIS_PORT = Number(process.env.GE_TEST_REDIS_PORT || 6379);

// Every time limit of the tests goes through limit(): scripts/test.sh sets
// GE_TEST_TIME_SCALE (3 under sanitizers, 10 under valgrind), so a limit
// bounds a hang, never the speed of a slowed-down build.
const SCALE = Number(process.env.GE_TEST_TIME_SCALE) > 0 ? Number(process.env.GE_TEST_TIME_SCALE) : 1;
const limit = (ms) => Math.round(ms * SCALE);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitPort(port, ms = 10000) {
  const deadline = Date.now() + limit(ms);
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error('port ' + port + ' never opened'));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

// GET url once on a connection of its own, closed after the answer (so
// that the check leaves no keep-alive connection behind).
function getStatus(url) {
  return new Promise((resolve, reject) => {
    const req = require('node:http').get(url, { agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.setTimeout(limit(2000), () => req.destroy(new Error('no answer from ' + url)));
    req.on('error', reject);
  });
}

async function waitHealthy(url, ms) {
  const deadline = Date.now() + limit(ms);
  for (;;) {
    try {
      if ((await getStatus(url + '/health')) === 200) return;
    } catch (_) { /* not yet */ }
    if (Date.now() > deadline) throw new Error('daemon never became healthy at ' + url);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolve with what `exited` resolves to; a process still running after
// limit(ms) is SIGKILLed and the stop fails: a stop never hangs a test.
async function exitWithin(proc, exited, ms, what) {
  let timer;
  const late = new Promise((r) => { timer = setTimeout(() => r('late'), limit(ms)); });
  const e = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (e !== 'late') return e;
  proc.kill('SIGKILL');
  await exited;
  throw new Error(what + ' still running ' + limit(ms) + ' ms after it was told to stop: killed');
}

// The folders startRedis made: removed when the test process exits (a
// test may restart a Redis on the same folder after a stop).
const redisDirs = [];
process.on('exit', () => { for (const d of redisDirs) fs.rmSync(d, { recursive: true, force: true }); });

// A private redis-server on a free port. opts.appendonly keeps an AOF so
// a SIGKILLed Redis comes back with its data.
async function startRedis(opts = {}) {
  const port = opts.port || await freePort();
  let dir = opts.dir;
  if (!dir) redisDirs.push(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-redis-')));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--dir', dir, '--appendonly', opts.appendonly ? 'yes' : 'no', '--daemonize', 'no'];
  // Durable: an event acknowledged with 200 survives a SIGKILL of Redis.
  if (opts.appendonly) args.push('--appendfsync', 'always');
  if (opts.password) args.push('--requirepass', opts.password);
  if (opts.unixsocket) args.push('--unixsocket', opts.unixsocket, '--unixsocketperm', '700');
  const proc = spawnOwned('redis-server', args, { stdio: 'ignore' });
  await waitPort(port);
  return {
    port, dir, proc,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await exitWithin(proc, done, 10000, 'redis-server');
    },
  };
}

// The real daemon. opts.env is merged over a test environment; opts.wait
// = false returns at once (for tests of start-up failures).
async function startServer(opts = {}) {
  const port = opts.port || await freePort();
  const env = Object.assign({
    PATH: process.env.PATH,
    API_SECRET: SECRET,
    PORT: String(port),
    HOST: '127.0.0.1',
    REDIS_EVENTS_PORT_6379_TCP_ADDR: '127.0.0.1',
    REDIS_EVENTS_PORT_6379_TCP_PORT: String(opts.redisPort || REDIS_PORT),
    POLL_TIMEOUT: '2000',
    LOG_LEVEL: 'WARN',
  }, opts.env || {});
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const wrap = process.env.GE_WRAP ? process.env.GE_WRAP.split(/\s+/).filter(Boolean) : [];
  const cmd = wrap.length ? wrap[0] : DAEMON;
  const args = wrap.length ? wrap.slice(1).concat([DAEMON], opts.args || []) : (opts.args || []);
  const proc = spawnOwned(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const server = {
    port, proc, exited, secret: env.API_SECRET,
    url: 'http://127.0.0.1:' + port,
    get stdout() { return stdout; },
    get stderr() { return stderr; },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && !proc.signalCode) proc.kill(signal);
      const e = await exitWithin(proc, exited, 20000, 'the daemon');
      checkMemoryReports(stderr);
      return e;
    },
  };
  if (opts.wait !== false) {
    const early = exited.then((e) => { throw new Error('daemon exited early: ' + JSON.stringify(e) + ' ' + stderr + stdout); });
    await Promise.race([waitPort(port, 20000), early]);
    // Ready means Redis answers too (GET /health), unless the test wants
    // to see the server without Redis.
    if (opts.waitRedis !== false) await Promise.race([waitHealthy(server.url, 20000), early]);
  }
  return server;
}

// One HTTP request with fetch; resolves {status, headers, body, json}. It
// fails after a minute (longer than any long-poll the tests ask for).
async function request(base, method, pathAndQuery, body, headers = {}) {
  const init = { method, headers: Object.assign({}, headers), signal: AbortSignal.timeout(limit(60000)) };
  if (body !== undefined) {
    if (typeof body === 'string' || Buffer.isBuffer(body)) init.body = body;
    else { init.body = JSON.stringify(body); init.headers['content-type'] = init.headers['content-type'] || 'application/json'; }
  }
  const res = await fetch(base + pathAndQuery, init);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch (_) { json = undefined; }
  return { status: res.status, headers: res.headers, body: text, json };
}

// A redis client good enough for tests: sends one command, reads one reply.
function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(limit(10000), () => s.destroy(new Error('redis at ' + port + ' did not answer ' + args[0])));
    let payload = '*' + args.length + '\r\n';
    for (const a of args) {
      const b = Buffer.from(String(a));
      payload += '$' + b.length + '\r\n' + b.toString('binary') + '\r\n';
    }
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parseResp(buf, 0);
      if (r) { s.destroy(); r.value instanceof Error ? reject(r.value) : resolve(r.value); }
    });
    s.on('error', reject);
    s.write(Buffer.from(payload, 'binary'));
  });
}

function parseResp(buf, i) {
  const nl = buf.indexOf('\r\n', i);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[i]);
  const line = buf.toString('utf8', i + 1, nl);
  const next = nl + 2;
  if (type === '+') return { value: line, end: next };
  if (type === '-') return { value: new Error(line), end: next };
  if (type === ':') return { value: Number(line), end: next };
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    if (buf.length < next + n + 2) return null;
    return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    const out = [];
    let at = next;
    for (let k = 0; k < n; k++) {
      const r = parseResp(buf, at);
      if (!r) return null;
      out.push(r.value);
      at = r.end;
    }
    return { value: out, end: at };
  }
  return { value: new Error('bad RESP'), end: buf.length };
}

// Under `make asan` / `make valgrind` a memory error or leak in the daemon
// must fail the test that stopped it.
function checkMemoryReports(stderr) {
  const m = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|==\d+== (Invalid|Conditional|Mismatched|Syscall param)|definitely lost: [1-9]/.exec(stderr);
  if (m) throw new Error('memory report from the daemon:\n' + stderr.slice(Math.max(0, m.index - 200), m.index + 4000));
}

let uniq = 0;
const unique = (prefix = 'ch') => prefix + '-' + process.pid + '-' + Date.now().toString(36) + '-' + (uniq++);

module.exports = { ROOT, BUILD, DAEMON, SECRET, REDIS_PORT, limit, freePort, waitPort, waitHealthy, sleep, startRedis, startServer, request, redisCommand, unique };
