'use strict';
// Start-up configuration: REDIS_URL as libcurl's URL API reads it (RFC
// 3986): IPv6 literals, user-info with percent-encoding, database numbers,
// unix sockets, and clear start-up errors that never echo the password;
// and the one number rule of every numeric setting.
const t = require('tap');
const { execFileSync } = require('node:child_process');
const { spawnOwned } = require('../lib/procs');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, request, freePort, waitPort, unique, limit, sleep, REDIS_PORT } = require('../lib/harness');

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

t.test('every numeric setting is digits only: a sign, a space or a fraction is a start-up error', { timeout: limit(600000) }, async (t) => {
  const redisPort = REDIS_PORT;
  const port = await freePort();
  // Each setting with a value it accepts.
  const settings = {
    REDIS_EVENTS_PORT_6379_TCP_PORT: String(redisPort), REDIS_DB: '3', PUBLISH_MIN_REPLICAS: '0',
    PUBLISH_REPLICA_TIMEOUT_MS: '500', POLL_TIMEOUT: '1000', PORT: String(port), MAX_BODY_BYTES: '4096',
    MAX_HEADER_BYTES: '4096', MAX_NAME_BYTES: '64', READ_TIMEOUT: '5', MAX_CONNECTIONS: '100', WORKERS: '1',
    RETENTION_MAX_EVENTS: '5', RETENTION_MAX_AGE: '5', RETENTION_SWEEP_INTERVAL: '5', STATSD_PORT: '8125',
    STREAM_HEARTBEAT_MS: '1000', STREAM_RETRY_MS: '1000', STREAM_MAX_PENDING_BYTES: '65536',
  };
  const extra = { STATSD_PORT: { STATSD_HOST: '127.0.0.1' } };
  const refused = async (env, what, message) => {
    const s = await startServer({ port, env, wait: false });
    const e = await Promise.race([s.exited, sleep(limit(3000)).then(() => ({ code: 'still running' }))]);
    if (e.code === 'still running') await s.stop();
    t.equal(e.code, 1, what + ' is refused');
    t.match(s.stderr, message, what);
  };
  for (const [name, ok] of Object.entries(settings)) {
    for (const bad of [' ' + ok, '+' + ok, '\t' + ok, ok + ' ', ok + '.0', '0x' + ok, '-' + ok]) {
      await refused(Object.assign({ [name]: bad }, extra[name]), name + '=' + JSON.stringify(bad),
        new RegExp('^ganomede-events-server: ' + name + ' must be ', 'm'));
    }
  }
  // The numbers inside a URL and in the rules follow the same rule.
  for (const url of ['redis-sentinel://127.0.0.1:26379/mymaster/+5', 'redis-sentinel://127.0.0.1:26379/mymaster/%205',
    'redis://127.0.0.1:' + redisPort + '/+5', 'unix:///tmp/x.sock?db=+5']) {
    await refused({ REDIS_URL: url }, url, /REDIS_URL is not/);
  }
  await refused({ REDIS_SENTINELS: '127.0.0.1:+26379' }, 'REDIS_SENTINELS', /REDIS_SENTINELS must be/);
  for (const rule of ['a=+5', 'a=5.0', 'a=1:+5', 'a=1:-5m']) await refused({ RETENTION_RULES: rule }, rule, /RETENTION_RULES: in/);
  // What they accept still starts: leading zeros are digits too.
  const s = await startServer({ env: { RETENTION_MAX_EVENTS: '007', READ_TIMEOUT: '030', STATSD_PORT: '08125', STATSD_HOST: '127.0.0.1' } });
  await s.stop();
  t.pass('007, 030 and 08125 are numbers');
});
