'use strict';
// REDIS_URL as libcurl's URL API reads it (RFC 3986): IPv6 literals,
// user-info with percent-encoding, database numbers, unix sockets, and
// clear start-up errors that never echo the password.
const t = require('tap');
const { execFileSync } = require('node:child_process');
const { spawnOwned } = require('../lib/procs');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, request, freePort, waitPort, unique, limit } = require('../lib/harness');

async function privateRedis(t) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-redis-url-'));
  const sock = path.join(dir, 'r.sock');
  const proc = spawnOwned('redis-server', ['--port', String(port), '--bind', '127.0.0.1 ::1', '--save', '',
    '--dir', dir, '--unixsocket', sock, '--unixsocketperm', '700'], { stdio: 'ignore' });
  t.teardown(() => { proc.kill('SIGKILL'); });
  await waitPort(port);
  return { port, sock };
}
const cli = (port, ...args) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).trim();

async function publishThrough(t, redisUrl) {
  const server = await startServer({ env: { REDIS_URL: redisUrl } });
  t.teardown(() => server.stop());
  const ch = unique('url');
  const res = await request(server.url, 'POST', '/events/v1/events',
    { secret: server.secret, clientId: 'c', channel: ch, from: 'f', type: 't' });
  t.equal(res.status, 200, 'publish through ' + redisUrl.replace(/:[^:@/]*@/, ':***@'));
  return ch;
}

t.test('IPv6 literal with port and database', { timeout: limit(60000) }, async (t) => {
  const r = await privateRedis(t);
  const ch = await publishThrough(t, 'redis://[::1]:' + r.port + '/4');
  t.equal(cli(r.port, '-n', '4', 'GET', 'indices:' + ch), '1', 'stored in database 4');
});

t.test('user and password with percent-encoding (Redis ACL)', { timeout: limit(60000) }, async (t) => {
  const r = await privateRedis(t);
  cli(r.port, 'ACL', 'SETUSER', 'ev-user', 'on', '>p@ss:w/rd %', '~*', '&*', '+@all');
  const ch = await publishThrough(t, 'redis://ev-user:p%40ss%3Aw%2Frd%20%25@127.0.0.1:' + r.port + '/2');
  t.equal(cli(r.port, '-n', '2', 'GET', 'indices:' + ch), '1');
});

t.test('unix socket with a percent-encoded path and a database', { timeout: limit(60000) }, async (t) => {
  const r = await privateRedis(t);
  const ch = await publishThrough(t, 'unix://' + r.sock.replace(/\//g, '/').replace('r.sock', 'r%2Esock') + '?db=5');
  t.equal(cli(r.port, '-n', '5', 'GET', 'indices:' + ch), '1');
});

t.test('malformed REDIS_URLs are start-up errors that do not echo the password', { timeout: limit(60000) }, async (t) => {
  for (const url of ['redis://:topsecret@[::1', 'redis://:topsecret@host:0', 'redis://:topsecret@host/abc',
    'redis://:topsecret@host/1?x=y', 'redis://:topsecret@host/-1', 'redis://user@host', 'unix://',
    'unix:///tmp/x.sock?db=x', 'http://:topsecret@host', 'redis://:topsecret@host:70000', 'redis://:topsecret@host/1#f']) {
    const s = await startServer({ env: { REDIS_URL: url }, wait: false });
    const e = await s.exited;
    t.equal(e.code, 1, url + ' is refused');
    t.match(s.stderr, /REDIS_URL is not/, url);
    t.notMatch(s.stderr + s.stdout, /topsecret/, 'the password is not echoed');
  }
});
