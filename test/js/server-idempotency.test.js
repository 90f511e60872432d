'use strict';
// Publishing exactly once (docs/protocol.md, "Publishing exactly once"): a
// publish with an Idempotency-Key that was already given to a stored event
// within the window is answered with that event (same id, same body) and
// X-Events-Repeat: true, stores nothing, wakes nobody and counts as a
// repeat, not a publish; per channel, within a window and a cap; in the
// batched path (publishes held together by CLIENT PAUSE) and on Redis
// Cluster too.
const t = require('tap');
const { subscriber } = require('../lib/redis-subscriber');
const h = require('../lib/harness');
const { startRedisCluster } = require('../lib/redis-cluster');

const T = { timeout: h.limit(120000) };

const publish = (s, channel, data, key, extra = {}) => h.request(s.url, 'POST', '/events/v1/events',
  Object.assign({ secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data }, extra),
  key === undefined ? {} : { 'idempotency-key': key });
const metric = async (s, name) => {
  const m = new RegExp('^' + name + ' (\\d+)$', 'm').exec((await h.request(s.url, 'GET', '/metrics')).body);
  return m ? Number(m[1]) : NaN;
};
const read = async (s, channel) => {
  const r = await h.request(s.url, 'GET', '/events/v1/events?secret=' + s.secret + '&clientId=c&after=0&channel=' +
    encodeURIComponent(channel));
  return r.json;
};

async function stack(t, env = {}) {
  const redis = await h.startRedis();
  t.teardown(() => redis.stop());
  const s = await h.startServer({ redisPort: redis.port, env });
  t.teardown(() => s.stop());
  return { redis, s, rc: (...a) => h.redisCommand(redis.port, ...a) };
}

t.test('a key given twice: one event, the second answer the first event marked a repeat', T, async (t) => {
  const { redis, s, rc } = await stack(t);
  const ch = h.unique('idem');
  const seen = await subscriber(t, redis.port, [ch]);
  const first = await publish(s, ch, { n: 1 }, 'k-0123456789abcdef');
  t.equal(first.status, 200);
  t.equal(first.headers.get('x-events-repeat'), null, 'the first is no repeat');
  const again = await publish(s, ch, { n: 1 }, 'k-0123456789abcdef');
  t.equal(again.status, 200);
  t.equal(again.headers.get('x-events-repeat'), 'true', 'the second is marked a repeat');
  t.equal(again.body, first.body, 'the same event, byte for byte (same id, same timestamp)');
  const other = await publish(s, ch, { n: 2 }, 'k-other');
  t.equal(other.json.id, first.json.id + 1, 'the repeat took no id');
  const events = await read(s, ch);
  t.same(events.map((e) => e.data.n), [1, 2], 'consumers see the event once');
  await h.sleep(100);
  t.same(seen[ch], [1, 2], 'the repeat woke nobody');
  t.equal(await metric(s, 'ganomede_events_published_total'), 2, 'the repeat is no publish');
  t.equal(await metric(s, 'ganomede_events_publish_repeats_total'), 1, 'it is counted as a repeat');
  // The key set: <channel>:idempotency, member the key, score the id.
  t.same(await rc('ZRANGE', ch + ':idempotency', '0', '-1', 'WITHSCORES'), ['k-0123456789abcdef', '1', 'k-other', '2']);
  const ttl = await rc('PTTL', ch + ':idempotency');
  t.ok(ttl > 0 && ttl <= 600000, 'the key set expires with the window: ' + ttl);
  // Without a key, publishes are as before.
  const a = await publish(s, ch, { n: 3 });
  const b = await publish(s, ch, { n: 3 });
  t.same([a.json.id, b.json.id], [3, 4], 'no key: every publish stores');
});

t.test('the same key with another body: 422, nothing stored; other channels are independent', T, async (t) => {
  const { s, rc } = await stack(t);
  const [A, B] = [h.unique('idem-a'), h.unique('idem-b')];
  t.equal((await publish(s, A, { n: 1 }, 'shared')).status, 200);
  for (const [what, r] of [
    ['other data', await publish(s, A, { n: 2 }, 'shared')],
    ['no data', await publish(s, A, undefined, 'shared')],
    ['other type', await publish(s, A, { n: 1 }, 'shared', { type: 'u' })],
  ]) {
    t.equal(r.status, 422, what);
    t.equal(r.json.code, 'IdempotencyKeyReused', what);
    t.match(r.json.message, /event 1 /, what + ': the message names the event');
  }
  t.equal(await rc('GET', 'indices:' + A), '1', 'nothing stored on a conflict, no id taken');
  // The same body with other spacing is the same event (bodies are compacted).
  const spaced = await h.request(s.url, 'POST', '/events/v1/events',
    '{ "secret": "' + s.secret + '", "clientId": "pub", "channel": "' + A + '", "from": "f", "type": "t", "data": { "n" : 1 } }',
    { 'content-type': 'application/json', 'idempotency-key': 'shared' });
  t.equal(spaced.headers.get('x-events-repeat'), 'true', 'the same data, spaced otherwise: a repeat');
  const onB = await publish(s, B, { n: 1 }, 'shared');
  t.equal(onB.status, 200);
  t.equal(onB.headers.get('x-events-repeat'), null, 'the same key on another channel is another publish');
  t.equal((await read(s, B)).length, 1);
});

t.test('a key that is not one: 400, nothing stored', T, async (t) => {
  const { s, rc } = await stack(t);
  const ch = h.unique('idem-bad');
  for (const [what, key] of [['256 bytes', 'x'.repeat(256)], ['a space', 'a b'], ['a control byte', 'a\u0001b'],
    ['non-ASCII', 'caf\u00e9'], ['empty', '']]) {
    let r;
    try { r = await publish(s, ch, { n: 1 }, key); } catch (e) { t.pass(what + ': fetch refuses to send it'); continue; }
    t.equal(r.status, 400, what);
    t.equal(r.json.code, 'InvalidContent', what);
    t.match(r.json.message, /Idempotency-Key/, what);
  }
  t.equal((await publish(s, ch, { n: 1 }, 'x'.repeat(255))).status, 200, '255 bytes are fine');
  t.equal(await rc('GET', 'indices:' + ch), '1');
});

t.test('window and cap: a key is forgotten after the window, and beyond the last events of its channel', T, async (t) => {
  const { s, rc } = await stack(t, { IDEMPOTENCY_WINDOW_MS: '1500', IDEMPOTENCY_MAX_KEYS: '16' });
  const ch = h.unique('idem-win');
  const first = await publish(s, ch, { n: 0 }, 'w');
  t.equal((await publish(s, ch, { n: 0 }, 'w')).headers.get('x-events-repeat'), 'true', 'within the window');
  await h.sleep(1700);
  const late = await publish(s, ch, { n: 0 }, 'w');
  t.equal(late.headers.get('x-events-repeat'), null, 'after the window: stored anew');
  t.equal(late.json.id, first.json.id + 1);
  t.ok(await rc('PTTL', ch + ':idempotency') <= 1500, 'the key set lives a window');
  // The cap: only the keys of the channel's last 16 events are kept.
  const cap = h.unique('idem-cap');
  for (let i = 1; i <= 48; i++) t.equal((await publish(s, cap, { i }, 'c' + i)).json.id, i);
  const kept = await rc('ZCARD', cap + ':idempotency');
  t.ok(kept >= 16 && kept <= 31, 'at most the cap and 15 more kept: ' + kept);
  t.equal((await publish(s, cap, { i: 48 }, 'c48')).headers.get('x-events-repeat'), 'true', 'a recent key is known');
  const old = await publish(s, cap, { i: 1 }, 'c1');
  t.equal(old.headers.get('x-events-repeat'), null, 'a key beyond the cap is forgotten');
  t.equal(old.json.id, 49);
});

t.test('IDEMPOTENCY_WINDOW_MS=0: keys are ignored', T, async (t) => {
  const { s, rc } = await stack(t, { IDEMPOTENCY_WINDOW_MS: '0' });
  const ch = h.unique('idem-off');
  await publish(s, ch, { n: 1 }, 'k');
  const again = await publish(s, ch, { n: 1 }, 'k');
  t.equal(again.json.id, 2, 'stored twice');
  t.equal(await rc('EXISTS', ch + ':idempotency'), 0, 'no key set');
});

t.test('a key set holding other data: 500 KeyCollision, nothing stored', T, async (t) => {
  const { s, rc } = await stack(t);
  const ch = h.unique('idem-col');
  await rc('SET', ch + ':idempotency', 'x');
  const r = await publish(s, ch, { n: 1 }, 'k');
  t.equal(r.status, 500);
  t.equal(r.json.code, 'KeyCollision');
  t.equal(await rc('EXISTS', 'indices:' + ch), 0, 'the counter did not move');
  t.equal((await publish(s, ch, { n: 1 })).status, 200, 'without a key the channel works');
});

t.test('batched publishes with repeats among them: one event per key, every answer the same event', T, async (t) => {
  const { redis, s, rc } = await stack(t);
  const chans = [h.unique('idem-b1'), h.unique('idem-b2')];
  const seen = await subscriber(t, redis.port, chans);
  await rc('CONFIG', 'RESETSTAT');
  const list = [];
  for (let k = 0; k < 10; k++) for (const ch of chans) for (let r = 0; r < 3; r++) list.push([ch, { k }, 'key' + k]);
  // One more key that comes before the burst: its repeats in the burst find it stored.
  for (const ch of chans) await publish(s, ch, { k: 'pre' }, 'pre');
  for (const ch of chans) list.push([ch, { k: 'pre' }, 'pre'], [ch, { k: 'pre' }, 'pre']);
  await rc('CLIENT', 'PAUSE', '1500', 'ALL');
  const answers = await Promise.all(list.map(([ch, data, key]) => publish(s, ch, data, key)));
  const m = /cmdstat_evalsha:calls=(\d+)/.exec(await rc('INFO', 'commandstats'));
  t.ok(m && Number(m[1]) < list.length / 2, 'the publishes went together: ' + (m && m[1]) + ' script calls');
  const byKey = new Map();
  answers.forEach((a, i) => {
    t.equal(a.status, 200, 'answer ' + i);
    const id = list[i][0] + '/' + list[i][2];
    if (!byKey.has(id)) byKey.set(id, []);
    byKey.get(id).push(a);
  });
  for (const [id, as] of byKey) {
    t.equal(new Set(as.map((a) => a.body)).size, 1, id + ': every answer is the same event');
    const fresh = as.filter((a) => a.headers.get('x-events-repeat') === null).length;
    t.equal(fresh, id.endsWith('/pre') ? 0 : 1, id + ': one answer stored it, the others are repeats');
  }
  await h.sleep(100);
  for (const ch of chans) {
    const events = await read(s, ch);
    t.equal(events.length, 11, ch + ': one event per key');
    t.same(events.map((e) => e.id), Array.from({ length: 11 }, (_, i) => i + 1), ch + ': ids without gaps');
    t.same(seen[ch].slice().sort((a, b) => a - b), events.map((e) => e.id), ch + ': each announced once');
  }
  t.equal(await metric(s, 'ganomede_events_published_total'), 22, 'published: one per key');
  t.equal(await metric(s, 'ganomede_events_publish_repeats_total'), list.length - 20, 'the rest are repeats');
});

t.test('cluster: a repeat is answered the first event; the key set is in the channel slot', T, async (t) => {
  const cluster = await startRedisCluster({ masters: 3, replicas: 0 });
  t.teardown(() => cluster.stop());
  const s = await h.startServer({ env: { REDIS_URL: 'redis-cluster://' + cluster.seeds() } });
  t.teardown(() => s.stop());
  for (const ch of ['a{b', h.unique('cl-idem'), h.unique('cl-idem2')]) {
    const first = await publish(s, ch, { n: 1 }, 'ck');
    t.equal(first.status, 200, ch);
    const again = await publish(s, ch, { n: 1 }, 'ck');
    t.equal(again.headers.get('x-events-repeat'), 'true', ch + ': a repeat');
    t.equal(again.body, first.body, ch + ': the first event');
    t.equal((await publish(s, ch, { n: 2 }, 'ck')).status, 422, ch + ': another body');
    const next = await publish(s, ch, { n: 3 }, 'ck2');
    t.equal(next.json.id, 2, ch + ': the repeats took no id');
    const tag = '{' + ch.replace(/%/g, '%25').replace(/\{/g, '%7B').replace(/\}/g, '%7D') + '}';
    const slot = await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag + ':last');
    t.equal(await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag + ':idempotency'), slot);
    const port = await cluster.slotMaster(slot);
    t.same(await h.redisCommand(port, 'ZRANGE', tag + ':idempotency', '0', '-1', 'WITHSCORES'), ['ck', '1', 'ck2', '2']);
  }
  t.equal(await metric(s, 'ganomede_events_publish_repeats_total'), 3);
});
