'use strict';
// Redis configuration beyond host and port: REDIS_URL (password, user,
// database, unix socket), REDIS_PASSWORD, and clear errors.
const tap = require('tap');
const path = require('node:path');
const { startServer, startRedis, request, redisCommand, unique, limit, freePort } = require('../lib/harness');

const T = { timeout: limit(60000) };

const publish = (s, channel) => request(s.url, 'POST', '/events/v1/events',
  { secret: s.secret, clientId: 'r', channel, from: 'f', type: 't' });

tap.test('REDIS_URL with a password and a database number', T, async (t) => {
  const redis = await startRedis({ password: 'p@ss:word' });
  try {
    const s = await startServer({ env: { REDIS_URL: 'redis://:p%40ss%3Aword@127.0.0.1:' + redis.port + '/3' } });
    try {
      const ch = unique();
      t.equal((await publish(s, ch)).status, 200);
      // The event is in database 3, behind the password.
      const sock = require('node:net');
      const got = await new Promise((resolve, reject) => {
        const c = sock.connect(redis.port, '127.0.0.1');
        let buf = '';
        c.on('data', (d) => { buf += d; if (buf.split('\r\n').length > 4) { c.destroy(); resolve(buf); } });
        c.on('error', reject);
        c.write('AUTH p@ss:word\r\nSELECT 3\r\nGET indices:' + ch + '\r\n');
      });
      t.match(got, /^\+OK\r\n\+OK\r\n\$1\r\n1\r\n/);
      t.ok(!s.stdout.includes('p@ss'), 'the password is not logged');
    } finally { await s.stop(); }
  } finally { await redis.stop(); }
});

tap.test('a wrong password: the server stays up, answers 503 and logs why', T, async (t) => {
  const redis = await startRedis({ password: 'right' });
  try {
    const s = await startServer({ waitRedis: false, env: { LOG_LEVEL: 'INFO', REDIS_URL: 'redis://:wrong@127.0.0.1:' + redis.port } });
    try {
      await new Promise((r) => setTimeout(r, 300));
      t.equal((await publish(s, unique())).status, 503);
      t.equal((await request(s.url, 'GET', '/health')).status, 503);
      t.match(s.stdout, /redis setup failed/);
      t.ok(!s.stdout.includes('wrong'), 'the password is not logged');
    } finally { await s.stop(); }
  } finally { await redis.stop(); }
});

tap.test('REDIS_PASSWORD with the original host/port variables', T, async (t) => {
  const redis = await startRedis({ password: 'sekret' });
  try {
    const s = await startServer({ redisPort: redis.port, env: { REDIS_PASSWORD: 'sekret' } });
    try { t.equal((await publish(s, unique())).status, 200); } finally { await s.stop(); }
  } finally { await redis.stop(); }
});

tap.test('REDIS_URL unix:// socket', T, async (t) => {
  const dir = require('node:fs').mkdtempSync(path.join(require('node:os').tmpdir(), 'ge-sock-'));
  const sockPath = path.join(dir, 'redis.sock');
  const redis = await startRedis({ unixsocket: sockPath });
  try {
    const s = await startServer({ env: { REDIS_URL: 'unix://' + sockPath + '?db=2' } });
    try {
      const ch = unique();
      t.equal((await publish(s, ch)).status, 200);
      t.equal(await redisCommand(redis.port, 'GET', 'indices:' + ch), null, 'not in db 0');
    } finally { await s.stop(); }
  } finally {
    await redis.stop();
    require('node:fs').rmSync(dir, { recursive: true, force: true });
  }
});

tap.test('a malformed REDIS_URL is a start-up error that does not echo the password', T, async (t) => {
  for (const url of ['http://x', 'redis://:secretpw@host:notaport', 'redis://user@host', 'unix://']) {
    const s = await startServer({ env: { REDIS_URL: url }, wait: false });
    const e = await s.exited;
    t.equal(e.code, 1, url);
    t.match(s.stderr, /REDIS_URL is not/);
    t.ok(!s.stderr.includes('secretpw'));
  }
});

tap.test('redis-cluster:// URLs are read and checked; what cluster mode does not serve yet is refused', T, async (t) => {
  for (const url of ['redis-cluster://', 'redis-cluster://host', 'redis-cluster://:secretpw@h:1,',
    'redis-cluster://h:1/0', 'redis-cluster://h:1?x=1', 'redis-cluster://user@h:1', 'redis-cluster://h:0',
    'redis-cluster://:secretpw@h:1,,h:2']) {
    const s = await startServer({ env: { REDIS_URL: url }, wait: false });
    const e = await s.exited;
    t.equal(e.code, 1, url);
    t.match(s.stderr, /REDIS_URL is not redis-cluster:\/\/\[\[user\]:password@\]host:port\[,host:port\.\.\.\]/, url);
    t.ok(!s.stderr.includes('secretpw'), 'the password is not echoed: ' + url);
  }
  const port = await freePort();
  const s = await startServer({ env: { REDIS_URL: 'redis-cluster://u:secretpw@127.0.0.1:' + port + ', [::1]:' + port + '/' }, waitRedis: false });
  const health = await request(s.url, 'GET', '/health');
  t.equal(health.status, 503, 'a good cluster URL is served: unavailable while no node answers');
  const pub = await request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'c', channel: 'ch', from: 'f', type: 't' });
  t.equal(pub.status, 503, 'a publish is answered 503 at once');
  await s.stop();
  t.ok(!s.stderr.includes('secretpw'), 'without the password');
  const both = await startServer({ env: { REDIS_URL: 'redis-cluster://h:1', REDIS_SENTINELS: '127.0.0.1:26379' }, wait: false });
  t.equal((await both.exited).code, 1);
  t.match(both.stderr, /REDIS_SENTINELS cannot be used with it/, 'a cluster and Sentinel are not mixed');
});
