'use strict';
// Sends through a failover (docs/client.md): the engine gives every send
// an Idempotency-Key and tries it again after a failure without an answer
// or a 503; against the daemon, which remembers keys, the event is stored
// once and every try is answered with it. Real daemons and Redis servers:
// a daemon that is not up yet, then one whose replica wait times out
// (PUBLISH_MIN_REPLICAS=1 with no replica) until a replica joins. Without
// keys (IDEMPOTENCY_WINDOW_MS=0, as an older server) the same retries
// store the event once per try: the documented limit.
const tap = require('tap');
const h = require('../lib/harness');
const { Client } = require('../..');

const T = { timeout: h.limit(60000) };

const send = (c, channel, event) => new Promise((resolve) => c.send(channel, event, (err, res) => resolve({ err, res })));
const zrange = (port, key) => h.redisCommand(port, 'ZRANGE', key, '0', '-1', 'WITHSCORES');

async function redisWithServer(t, env) {
  const redis = await h.startRedis();
  t.teardown(() => redis.stop());
  const s = await h.startServer({ redisPort: redis.port, env });
  t.teardown(() => s.stop());
  return { redis, s };
}

tap.test('a send to a daemon not up yet is tried again until it is, and stored once', T, async (t) => {
  const redis = await h.startRedis();
  t.teardown(() => redis.stop());
  const port = await h.freePort();
  const c = new Client('sender', { secret: h.SECRET, hostname: '127.0.0.1', port, sendBackoff: 50, sendMaxBackoff: 200, sendTries: 40 });
  t.teardown(() => c.close());
  const ch = h.unique('retry-up');
  const pending = send(c, ch, { from: 'f', type: 't', data: { n: 1 } });
  await h.sleep(600); // several tries are refused meanwhile
  const s = await h.startServer({ port, redisPort: redis.port });
  t.teardown(() => s.stop());
  const { err, res } = await pending;
  t.error(err);
  t.equal(res.id, 1);
  t.equal(await h.redisCommand(redis.port, 'GET', 'indices:' + ch), '1', 'stored once');
  const keys = await zrange(redis.port, ch + ':idempotency');
  t.equal(keys.length, 2, 'one key: ' + JSON.stringify(keys));
  t.match(String(keys[0]), /^[0-9a-f]{32}$/, 'the send carried a key of 128 random bits in hex');
  t.equal(String(keys[1]), '1', 'for the event stored');
});

tap.test('a send answered 503 (replica wait timed out) is tried again with its key: stored once, answered once replicated', T, async (t) => {
  const { redis, s } = await redisWithServer(t, { PUBLISH_MIN_REPLICAS: '1', PUBLISH_REPLICA_TIMEOUT_MS: '100' });
  const c = new Client('sender', { secret: s.secret, hostname: '127.0.0.1', port: s.port, sendBackoff: 100, sendMaxBackoff: 300, sendTries: 30 });
  t.teardown(() => c.close());
  const ch = h.unique('retry-503');
  const pending = send(c, ch, { from: 'f', type: 't', data: { n: 1 } });
  await h.sleep(800); // the first tries are stored but not replicated: 503
  t.equal(await h.redisCommand(redis.port, 'GET', 'indices:' + ch), '1', 'the first try stored it');
  const replica = await h.startRedis();
  t.teardown(() => replica.stop());
  await h.redisCommand(replica.port, 'REPLICAOF', '127.0.0.1', String(redis.port));
  const { err, res } = await pending;
  t.error(err, 'answered once a replica has it');
  t.equal(res.id, 1, 'with the event the first try stored');
  t.equal(await h.redisCommand(redis.port, 'GET', 'indices:' + ch), '1', 'stored once');
  const m = /ganomede_events_publish_repeats_total (\d+)/.exec((await h.request(s.url, 'GET', '/metrics')).body);
  t.ok(m && Number(m[1]) >= 1, 'the later tries were repeats: ' + (m && m[1]));
});

tap.test('a daemon that ignores keys: the same retries store the event once per try (docs/client.md)', T, async (t) => {
  const { redis, s } = await redisWithServer(t, { PUBLISH_MIN_REPLICAS: '1', PUBLISH_REPLICA_TIMEOUT_MS: '50', IDEMPOTENCY_WINDOW_MS: '0' });
  const c = new Client('sender', { secret: s.secret, hostname: '127.0.0.1', port: s.port, sendBackoff: 20, sendMaxBackoff: 20, sendTries: 3 });
  t.teardown(() => c.close());
  const ch = h.unique('retry-nokeys');
  const { err } = await send(c, ch, { from: 'f', type: 't' });
  t.equal(err && err.statusCode, 503, 'the last try\'s 503');
  t.equal(await h.redisCommand(redis.port, 'GET', 'indices:' + ch), '3', 'three tries, three events');
  // idempotencyKeys: false sends once, as before.
  const once = new Client('sender', { secret: s.secret, hostname: '127.0.0.1', port: s.port, idempotencyKeys: false });
  t.teardown(() => once.close());
  const ch2 = h.unique('retry-once');
  const r = await send(once, ch2, { from: 'f', type: 't' });
  t.equal(r.err && r.err.statusCode, 503);
  t.equal(await h.redisCommand(redis.port, 'GET', 'indices:' + ch2), '1', 'one try');
});

tap.test('a send that gets an answer other than 503 is not tried again', T, async (t) => {
  const { redis, s } = await redisWithServer(t, {});
  const c = new Client('sender', { secret: 'wrong', hostname: '127.0.0.1', port: s.port, sendBackoff: 10 });
  t.teardown(() => c.close());
  const { err } = await send(c, h.unique('retry-401'), { from: 'f', type: 't' });
  t.equal(err && err.statusCode, 401);
  const m = /requests_total\{route="[^"]*events[^"]*",status="401"\} (\d+)/.exec((await h.request(s.url, 'GET', '/metrics')).body);
  t.equal(m && Number(m[1]), 1, 'one request');
  t.ok(redis);
});

tap.test('send options are checked', T, async (t) => {
  for (const [k, v] of [['sendTries', 0], ['sendTries', 1.5], ['sendTries', 1001], ['sendBackoff', 0], ['sendMaxBackoff', -1],
    ['idempotencyKeys', 'yes']])
    t.throws(() => new Client('id', { secret: 's', [k]: v }), new RegExp(k), k + ' ' + v);
});

tap.test('the CLI send is tried again until the daemon is up, and stored once', T, async (t) => {
  const { startCli } = require('../lib/client-harness');
  const redis = await h.startRedis();
  t.teardown(() => redis.stop());
  const port = await h.freePort();
  const ch = h.unique('retry-cli');
  const cli = startCli({ url: 'http://127.0.0.1:' + port, secret: h.SECRET }, ['send', ch, 'f', 't', '{"n":1}'], 'cli-sender');
  await h.sleep(400); // its first tries are refused
  const s = await h.startServer({ port, redisPort: redis.port });
  t.teardown(() => s.stop());
  t.same(await cli.done, { code: 0, signal: null }, cli.stderr);
  t.equal(JSON.parse(cli.stdout).id, 1, 'the stored event printed');
  t.equal(await h.redisCommand(redis.port, 'GET', 'indices:' + ch), '1', 'stored once');
  t.equal(await h.redisCommand(redis.port, 'ZCARD', ch + ':idempotency'), 1, 'with its key');
});
