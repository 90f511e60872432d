'use strict';
// Sentinel discovery edge cases and replica-acknowledged publishing,
// with real redis-server and redis-sentinel processes on loopback.
const t = require('tap');
const h = require('../lib/harness');
const ha = require('../lib/ha-cluster');

const publish = (url, channel, data = {}) => h.request(url, 'POST', '/events/v1/events',
  { secret: h.SECRET, clientId: 'ha', channel, from: 'ha/v1', type: 't', data });
const health = async (url) => (await h.request(url, 'GET', '/events/v1/health').catch(() => ({ status: 0 }))).status;

t.test('Sentinels unreachable at start: 503 at once, connects when one appears', { timeout: h.limit(60000) }, async (t) => {
  const sentinelPort = await h.freePort();
  const server = await h.startServer({ waitRedis: false, env: { REDIS_SENTINELS: '127.0.0.1:' + sentinelPort, LOG_LEVEL: 'INFO' } });
  let cluster = null;
  try {
    t.equal(await health(server.url), 503, 'health is 503');
    const t0 = Date.now();
    const r = await publish(server.url, h.unique());
    t.equal(r.status, 503, 'a publish is refused with 503');
    t.equal(r.json.code, 'ServiceUnavailable');
    t.ok(Date.now() - t0 < h.limit(1000), 'at once (' + (Date.now() - t0) + ' ms)');
    await h.sleep(600); // a few rounds of asking nobody
    t.equal(server.proc.exitCode, null, 'the daemon keeps running');
    // A master and a Sentinel appear, the Sentinel on the configured port.
    const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'ge-ha-'));
    const master = await ha.startNode(await h.freePort(), dir);
    const sentinel = await ha.startSentinel(sentinelPort, dir, master.port, { quorum: 1 });
    cluster = { stop: async () => { await sentinel.kill(); await master.kill(); } };
    await ha.until(async () => (await health(server.url)) === 200, 15000, 'the daemon to find the master');
    const ok = await publish(server.url, h.unique());
    t.equal(ok.status, 200, 'publishing works');
    t.match(server.stdout, /no Sentinel told where master \\"mymaster\\" is/, 'the wait was logged');
  } finally {
    await server.stop();
    if (cluster) await cluster.stop();
  }
});

t.test('a wrong master name: a clear log line, 503, no crash', { timeout: h.limit(60000) }, async (t) => {
  const cluster = await ha.startCluster({ replicas: 0, sentinels: 1, quorum: 1 });
  const server = await h.startServer({ waitRedis: false, env: { REDIS_SENTINELS: cluster.sentinelList(), REDIS_SENTINEL_MASTER: 'no-such-master', LOG_LEVEL: 'INFO' } });
  try {
    await ha.until(async () => /knows no master named \\"no-such-master\\" \(check REDIS_SENTINEL_MASTER\)/.test(server.stdout), 10000, 'the log line');
    t.pass('logged: ' + server.stdout.split('\n').find((l) => /knows no master/.test(l)));
    t.equal((await publish(server.url, h.unique())).status, 503, 'publish answered 503');
    await h.sleep(500);
    t.equal(server.proc.exitCode, null, 'still running');
    t.equal(server.stdout.split('\n').filter((l) => /knows no master/.test(l)).length, 1, 'said once, not once per retry');
  } finally {
    const e = await server.stop();
    t.same(e, { code: 0, signal: null }, 'exits 0 on SIGTERM');
    await cluster.stop();
  }
});

t.test('READONLY from a demoted master: the daemon asks Sentinel again within 1 s', { timeout: h.limit(60000) }, async (t) => {
  const cluster = await ha.startCluster({ replicas: 1, sentinels: 1, quorum: 1 });
  const server = await h.startServer({ env: { REDIS_SENTINELS: cluster.sentinelList(), LOG_LEVEL: 'INFO' } });
  try {
    const [a, b] = cluster.nodes;
    const channel = h.unique('ro');
    t.equal((await publish(server.url, channel)).status, 200, 'publishing to the first master');
    // Sentinel is told the master is now b (no +switch-master is sent),
    // then the roles swap under the daemon.
    const s = cluster.sentinels[0].port;
    await h.redisCommand(s, 'SENTINEL', 'REMOVE', ha.MASTER);
    await h.redisCommand(s, 'SENTINEL', 'MONITOR', ha.MASTER, '127.0.0.1', String(b.port), '1');
    await h.redisCommand(s, 'SENTINEL', 'SET', ha.MASTER, 'down-after-milliseconds', '1000');
    await h.redisCommand(b.port, 'REPLICAOF', 'NO', 'ONE');
    await h.redisCommand(a.port, 'REPLICAOF', '127.0.0.1', String(b.port));
    const demotedAt = Date.now();
    let okAt = 0, last;
    while (Date.now() - demotedAt < h.limit(5000)) {
      last = await publish(server.url, channel, { n: 1 });
      if (last.status === 200) { okAt = Date.now(); break; }
      await h.sleep(20);
    }
    t.equal(last.status, 200, 'publishing works again');
    t.ok(okAt - demotedAt < h.limit(1000), 'within 1 s of the demotion (' + (okAt - demotedAt) + ' ms)');
    t.equal(await h.redisCommand(b.port, 'GET', channel + ':' + last.json.id) !== null, true, 'stored on the new master');
    t.match(server.stdout, /refused a write \(READONLY/, 'the READONLY was logged');
    t.match(server.stdout, new RegExp('redis master is 127\\.0\\.0\\.1:' + b.port), 'the daemon moved to the new master');
  } finally {
    await server.stop();
    await cluster.stop();
  }
});

t.test('configuration: bad Sentinel lists are refused, redis-sentinel:// URLs work', { timeout: h.limit(60000) }, async (t) => {
  for (const [env, re] of [
    [{ REDIS_SENTINELS: 'localhost' }, /REDIS_SENTINELS must be host:port/],
    [{ REDIS_SENTINELS: '127.0.0.1:0' }, /REDIS_SENTINELS must be host:port/],
    [{ REDIS_URL: 'redis-sentinel://127.0.0.1:26379' }, /redis-sentinel:\/\/\[\[user\]:password@\]host:port/],
    [{ PUBLISH_MIN_REPLICAS: 'x' }, /PUBLISH_MIN_REPLICAS must be a whole number/],
  ]) {
    const s = await h.startServer({ wait: false, env });
    const e = await s.exited;
    t.equal(e.code, 1, JSON.stringify(env) + ' exits 1');
    t.match(s.stderr, re, 'and says why');
  }
  const cluster = await ha.startCluster({ replicas: 0, sentinels: 1, quorum: 1 });
  const server = await h.startServer({ env: { REDIS_URL: 'redis-sentinel://' + cluster.sentinelList() + ',127.0.0.1:1/' + ha.MASTER } });
  try {
    t.equal((await publish(server.url, h.unique())).status, 200, 'publishing through a redis-sentinel:// URL');
  } finally {
    await server.stop();
    await cluster.stop();
  }
});

t.test('PUBLISH_MIN_REPLICAS without enough replicas: 503 with a clear message, reads unaffected', { timeout: h.limit(60000) }, async (t) => {
  const cluster = await ha.startCluster({ replicas: 1, sentinels: 1, quorum: 1 });
  const server = await h.startServer({ env: { REDIS_SENTINELS: cluster.sentinelList(), PUBLISH_MIN_REPLICAS: '2', PUBLISH_REPLICA_TIMEOUT_MS: '1500' } });
  try {
    const channel = h.unique('wait');
    const pending = publish(server.url, channel);
    // While that publish waits for a second replica, reads answer at once.
    const t0 = Date.now();
    const latest = await h.request(server.url, 'GET', '/events/v1/latest?secret=' + h.SECRET + '&channel=' + channel);
    t.equal(latest.status, 200, 'GET /latest answers during the WAIT');
    t.ok(Date.now() - t0 < h.limit(1000), 'without waiting for it (' + (Date.now() - t0) + ' ms)');
    const r = await pending;
    t.equal(r.status, 503, 'the publish is refused');
    t.equal(r.json.code, 'ServiceUnavailable');
    t.match(r.json.message, /only 1 of the 2 replicas required confirmed the event within 1500 ms/, 'and says why: ' + r.json.message);
    // A consumer never sees the unconfirmed event, though Redis holds it.
    t.equal(await h.redisCommand(cluster.nodes[0].port, 'GET', 'indices:' + channel), '1', 'Redis holds it');
    const ev = await h.request(server.url, 'GET', '/events/v1/events?secret=' + h.SECRET + '&clientId=c&channel=' + channel + '&after=0');
    t.same(ev.json, [], 'a reader is not shown it');
  } finally {
    await server.stop();
    await cluster.stop();
  }
});

t.test('REDIS_SENTINEL_PASSWORD: the Sentinels\' own password', { timeout: h.limit(60000) }, async (t) => {
  const cluster = await ha.startCluster({ replicas: 0, sentinels: 1, quorum: 1, password: 'sentinel-pw' });
  const good = await h.startServer({ env: { REDIS_SENTINELS: cluster.sentinelList(), REDIS_SENTINEL_PASSWORD: 'sentinel-pw' } });
  const bad = await h.startServer({ waitRedis: false, env: { REDIS_SENTINELS: cluster.sentinelList(), REDIS_SENTINEL_PASSWORD: 'wrong', LOG_LEVEL: 'INFO' } });
  try {
    t.equal((await publish(good.url, h.unique())).status, 200, 'the right password: publishing works');
    await ha.until(async () => /Sentinel 127\.0\.0\.1:\d+: WRONGPASS|Sentinel 127\.0\.0\.1:\d+: NOAUTH/.test(bad.stdout), 10000, 'the refusal to be logged');
    t.equal((await publish(bad.url, h.unique())).status, 503, 'a wrong one: 503');
    t.notMatch(bad.stdout + bad.stderr, /sentinel-pw|wrong/, 'no password is logged');
  } finally {
    await good.stop();
    await bad.stop();
    await cluster.stop();
  }
});
