'use strict';
// The Node client and the garbage collector: an unreachable client whose
// JS object is collected while its last long-poll is still in flight must
// not disturb the process when that request ends (it once died with
// "[Error: Unknown failure]", Node-API's text for a failed unref of the
// collected object's reference). Child processes run with --expose-gc and
// force the collection between the removal of the last listener and the
// end of the request.
const t = require('tap');
const { spawnOwned } = require('../lib/procs');
const h = require('../lib/client-harness');
// GE_TEST_PKG: the package to load in the children (default: this one), to
// check a build from before the fix.

function runGcNode(script, env, ms = 20000) {
  return new Promise((resolve) => {
    const child = spawnOwned(process.execPath, ['--expose-gc', '-e', script], {
      cwd: h.ROOT, env: Object.assign({ PATH: process.env.PATH }, env), stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), h.limit(ms));
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

// The long-poll ends while the loop is blocked right after the collection
// (the server is killed, its sockets close), so that the socket event comes
// in the same loop turn, before Node runs the collected object's finalizer.
const script = `
const { Client } = require(process.env.PKG);
let c = new Client('gc-client', { secret: process.env.SECRET, hostname: '127.0.0.1', port: Number(process.env.PORT) });
c.on('error', () => {});
c.on(process.env.CH, () => {});
setTimeout(() => {
  c.removeAllListeners(process.env.CH); // the long-poll stays in flight, the client is idle
  c = null;
  setTimeout(() => {
    process.kill(Number(process.env.DAEMON_PID), 'SIGKILL');
    const end = Date.now() + 200;
    while (Date.now() < end) { /* let the kernel close the server's sockets */ }
    global.gc();
    global.gc();
  }, 50);
  setTimeout(() => { global.gc(); console.log('survived'); }, 1000);
}, 300);
`;

t.test('a client collected while its last long-poll is in flight: the process goes on', { timeout: h.limit(60000) }, async (t) => {
  for (let round = 0; round < 3; round++) {
    const server = await h.startServer({ redisPort: h.REDIS_PORT, env: { POLL_TIMEOUT: '20000' } });
    const r = await runGcNode(script, {
      PKG: process.env.GE_TEST_PKG || h.PKG, SECRET: server.secret, PORT: String(server.port),
      CH: h.unique('gc'), DAEMON_PID: String(server.proc.pid),
    });
    await server.stop();
    t.equal(r.code, 0, 'round ' + round + ': exit 0; stderr: ' + r.stderr);
    t.equal(r.stdout.trim(), 'survived', 'round ' + round + ': the process went on');
  }
});

// Many clients created, used and dropped while gc() runs between them: no
// crash, no stray exception, each answer arrives.
t.test('clients created and dropped under forced collections', { timeout: h.limit(60000) }, async (t) => {
  const server = await h.startServer({ redisPort: h.REDIS_PORT, env: { POLL_TIMEOUT: '300' } });
  const r = await runGcNode(`
const { Client } = require(process.env.PKG);
const opts = { secret: process.env.SECRET, hostname: '127.0.0.1', port: Number(process.env.PORT) };
let errors = 0;
process.on('uncaughtException', (err) => { errors++; console.log('uncaught ' + err.message); });
(async () => {
  for (let i = 0; i < 30; i++) {
    const c = new Client('gc-' + i, opts);
    const ch = process.env.CH + i;
    await new Promise((resolve, reject) => c.send(ch, { from: 'x', type: 'y' }, (err) => (err ? reject(err) : resolve())));
    await new Promise((resolve) => { c.on(ch, () => { c.removeAllListeners(ch); resolve(); }); });
    global.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  global.gc();
  setTimeout(() => { global.gc(); console.log('done ' + errors); }, 700);
})().catch((err) => { console.log('failed ' + err.message); });
`, { PKG: process.env.GE_TEST_PKG || h.PKG, SECRET: server.secret, PORT: String(server.port), CH: h.unique('gcm') });
  await server.stop();
  t.equal(r.code, 0, 'exit 0; stderr: ' + r.stderr);
  t.equal(r.stdout.trim(), 'done 0', 'every round answered, nothing uncaught');
});
