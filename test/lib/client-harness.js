'use strict';
// Helpers for the client tests, over test/lib/harness.js (real daemon, real
// Redis). Nothing here imitates what we ship: the Client under test is the
// package itself, talking HTTP to the daemon.
const { spawnOwned } = require('./procs');
const path = require('node:path');
const h = require('./harness');
const { Client, IndexerClient } = require('../..');

// A daemon on the shared Redis; returns {server, opts(extra) -> client options}.
async function startStack(serverOpts = {}) {
  const server = await h.startServer(Object.assign({ redisPort: h.REDIS_PORT }, serverOpts));
  const options = (extra = {}) => Object.assign({ secret: server.secret, hostname: '127.0.0.1', port: server.port }, extra);
  return { server, options, url: server.url };
}

// Publish through the REST API directly (not through the client under test).
async function publish(stack, channel, event) {
  const body = Object.assign({ secret: stack.server.secret, clientId: 'publisher', channel }, event);
  const res = await h.request(stack.url, 'POST', '/events/v1/events', body);
  if (res.status !== 200) throw new Error('publish failed: ' + res.status + ' ' + res.body);
  return res.json;
}

// Resolve with the first `n` (event, channel) pairs emitted on `name`.
function collect(emitter, name, n, ms = 10000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const t = setTimeout(() => { emitter.removeListener(name, on); reject(new Error('timeout waiting for ' + n + ' ' + name + ' (got ' + got.length + ')')); }, h.limit(ms));
    function on(a, b) {
      got.push([a, b]);
      if (got.length === n) { clearTimeout(t); emitter.removeListener(name, on); resolve(got); }
    }
    emitter.on(name, on);
  });
}

function once(emitter, name, ms = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout waiting for ' + name)), h.limit(ms));
    emitter.once(name, (...args) => { clearTimeout(t); resolve(args); });
  });
}

const cb2p = (fn) => new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

// Run a script in a child node process, SIGKILLed after `timeout` ms;
// resolves {code, signal, stdout, stderr, ms}.
function runNode(script, { env = {}, timeout = 20000, args = [] } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawnOwned(process.execPath, ['-e', script, ...args], {
      cwd: h.ROOT, env: Object.assign({ PATH: process.env.PATH }, env), stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), h.limit(timeout));
    child.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr, ms: Date.now() - started }); });
  });
}

// The C client: `ganomede-events --client-id ID ARGS...` against server s
// (under GE_WRAP when set), stdout and stderr kept, SIGKILLed after killMs.
// r.done resolves {code, signal}; r.events() parses the printed events.
const CLI = path.join(h.ROOT, h.BUILD, 'ganomede-events');
function startCli(s, args, clientId, killMs = 60000) {
  const wrap = process.env.GE_WRAP ? process.env.GE_WRAP.split(/\s+/).filter(Boolean) : [];
  const env = { PATH: process.env.PATH, GANOMEDE_EVENTS_URL: s.url, API_SECRET: s.secret };
  const all = ['--client-id', clientId].concat(args);
  const p = spawnOwned(wrap.length ? wrap[0] : CLI, wrap.length ? wrap.slice(1).concat([CLI], all) : all, { env });
  const r = { proc: p, stdout: '', stderr: '' };
  p.stdout.on('data', (d) => { r.stdout += d; });
  p.stderr.on('data', (d) => { r.stderr += d; });
  const timer = setTimeout(() => p.kill('SIGKILL'), killMs);
  r.done = new Promise((resolve) => p.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal }); }));
  r.events = () => r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return r;
}

module.exports = Object.assign({}, h, {
  Client, IndexerClient, PKG: path.resolve(__dirname, '..', '..'),
  startStack, publish, collect, once, cb2p, runNode, startCli,
});
