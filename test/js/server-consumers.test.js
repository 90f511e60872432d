'use strict';
// Where consumers stand: GET /events/v1/consumers (cursor, lag, last read)
// and GET /events/v1/channels (paged), over a real daemon and Redis.
const tap = require('tap');
const { REDIS_PORT, startServer, request, redisCommand, unique, sleep, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };
const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');

const publish = (s, channel, n = 1) => (async () => {
  for (let i = 0; i < n; i++) {
    const r = await request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't' });
    if (r.status !== 200) throw new Error('publish: ' + r.status + ' ' + r.body);
  }
})();
const read = (s, params) => request(s.url, 'GET', '/events/v1/events?' + q(Object.assign({ secret: s.secret }, params)));
const consumers = (s, channel) => request(s.url, 'GET', '/events/v1/consumers?' + q({ secret: s.secret, channel }));
const byId = (list) => Object.fromEntries(list.map((c) => [c.clientId, c]));

tap.test('consumers: every client that read the channel, its acknowledged id, lag and last read', T, async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop());
  const ch = unique();
  await publish(s, ch, 5);
  const t0 = Date.now();
  t.equal((await read(s, { clientId: 'a', channel: ch, after: 2 })).json.length, 3);
  t.equal((await read(s, { clientId: 'b', channel: ch, after: 5 })).status, 200);
  t.equal((await read(s, { clientId: 'c', channel: ch, limit: 2000 })).json.length, 5); // no after: the stored cursor (none)
  const t1 = Date.now();
  let r = await consumers(s, ch);
  t.equal(r.status, 200);
  t.equal(r.json.channel, ch);
  t.equal(r.json.last, 5);
  t.same(r.json.consumers.map((c) => c.clientId), ['a', 'b', 'c'], 'listed by clientId');
  const c = byId(r.json.consumers);
  t.same([c.a.after, c.a.lag, c.b.after, c.b.lag, c.c.after, c.c.lag], [2, 3, 5, 0, 0, 5]);
  for (const k of ['a', 'b', 'c']) t.ok(c[k].lastSeen >= t0 - 5 && c[k].lastSeen <= t1 + 5, k + ' lastSeen is its read');
  t.equal(c.b.oldestUnackedAge, null, 'nothing unacknowledged: null');
  t.ok(c.a.oldestUnackedAge >= 0 && c.a.oldestUnackedAge < 60000, 'age of event 3');

  await publish(s, ch, 2);
  r = await consumers(s, ch);
  t.same(r.json.consumers.map((x) => x.lag), [5, 2, 7], 'publishes raise every lag');
  t.equal(r.json.last, 7);

  await sleep(1100); // lastSeen is kept to the second: a consumer is filed once a second at most
  const before = byId(r.json.consumers).a.lastSeen;
  await read(s, { clientId: 'a', channel: ch, after: 7 });
  r = await consumers(s, ch);
  const a = byId(r.json.consumers).a;
  t.same([a.after, a.lag, a.oldestUnackedAge], [7, 0, null], 'the consumer read: lag 0');
  t.ok(a.lastSeen > before, 'lastSeen moves with each read');
});

tap.test('consumers: a long-poll for many channels files its client on each channel', T, async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop());
  const [c1, c2] = [unique(), unique()];
  await publish(s, c1, 3);
  await publish(s, c2, 1);
  const r = await request(s.url, 'POST', '/events/v1/events/multi', { secret: s.secret, clientId: 'm', channels: [{ channel: c1, after: 1 }, { channel: c2, after: 0 }] });
  t.equal(r.status, 200);
  t.same((await consumers(s, c1)).json.consumers.map((x) => [x.clientId, x.after, x.lag]), [['m', 1, 2]]);
  t.same((await consumers(s, c2)).json.consumers.map((x) => [x.clientId, x.after, x.lag]), [['m', 0, 1]]);
});

tap.test('consumers: lag counts retained events only; trimmed ones count for nothing', T, async (t) => {
  const prefix = unique();
  const s = await startServer({ env: { RETENTION_RULES: prefix + '*=3' } });
  t.teardown(() => s.stop());
  const ch = prefix + '/x';
  await publish(s, ch, 1);
  await read(s, { clientId: 'slow', channel: ch, after: 0 });
  await publish(s, ch, 9); // ids 1..10, 8..10 retained
  const r = await consumers(s, ch);
  const slow = byId(r.json.consumers).slow;
  t.same([r.json.last, slow.after, slow.lag], [10, 0, 3], 'events 1-7 were trimmed: lag 3, not 10');
  t.ok(slow.oldestUnackedAge !== null, 'its oldest unacknowledged event is the oldest retained');
});

tap.test('consumers: an unknown channel has none; bad input is refused', T, async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop());
  const ch = unique();
  let r = await consumers(s, ch);
  t.equal(r.status, 200);
  t.same(r.json, { channel: ch, last: 0, consumers: [] });
  r = await request(s.url, 'GET', '/events/v1/consumers?' + q({ secret: s.secret }));
  t.same([r.status, r.json.code, r.json.message], [400, 'InvalidContent', 'Invalid Channel']);
  r = await request(s.url, 'GET', '/events/v1/consumers?' + q({ secret: s.secret, channel: 'indices' }));
  t.equal(r.status, 400);
  t.match(r.json.message, /reserved/);
  r = await request(s.url, 'GET', '/events/v1/consumers?' + q({ channel: ch }));
  t.same([r.status, r.json.code], [401, 'InvalidCredentialsError']);
  r = await request(s.url, 'GET', '/events/v1/consumers?' + q({ secret: 'wrong', channel: ch }));
  t.equal(r.status, 401);
  r = await request(s.url, 'POST', '/events/v1/consumers', { secret: s.secret, channel: ch });
  t.same([r.status, r.headers.get('allow')], [405, 'GET, DELETE']);
});

const forget = (s, params) => request(s.url, 'DELETE', '/events/v1/consumers?' + q(params));

tap.test('consumers: DELETE forgets a consumer gone for good, its registry entry and its cursor', T, async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop());
  const ch = unique();
  await publish(s, ch, 4);
  await read(s, { clientId: 'gone', channel: ch, after: 3 });
  await read(s, { clientId: 'stays', channel: ch, after: 1 });
  let r = await forget(s, { secret: s.secret, channel: ch, clientId: 'gone' });
  t.same([r.status, r.json], [200, { channel: ch, clientId: 'gone', after: 3 }], 'answers the acknowledged id it had');
  r = await consumers(s, ch);
  t.same(r.json.consumers.map((c) => [c.clientId, c.after]), [['stays', 1]], 'the others stay as they were');
  t.equal(await redisCommand(REDIS_PORT, 'EXISTS', 'last-fetched:gone:' + ch), 0, 'its cursor is deleted');
  t.equal(await redisCommand(REDIS_PORT, 'GET', 'last-fetched:stays:' + ch), '1');

  r = await forget(s, { secret: s.secret, channel: ch, clientId: 'gone' });
  t.same([r.status, r.json.code], [404, 'ConsumerNotFound'], 'a second DELETE: not found');
  t.match(r.json.message, /do not include/);

  // A client that comes back starts over from the oldest retained event:
  // at least once, nothing skipped.
  r = await read(s, { clientId: 'gone', channel: ch });
  t.same(r.json.map((e) => e.id), [1, 2, 3, 4], 'back again, it reads from the start');
  r = await consumers(s, ch);
  t.same(r.json.consumers.map((c) => c.clientId), ['gone', 'stays'], 'and is filed again by that read');
});

tap.test('consumers: DELETE leaves alone what the registry does not name; bad input is refused', T, async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop());
  const ch = unique();
  await publish(s, ch, 2);
  // An index's position shares the cursors' keys: a name the registry does
  // not hold is never deleted.
  await redisCommand(REDIS_PORT, 'SET', 'last-fetched:my-index:' + ch, '2');
  let r = await forget(s, { secret: s.secret, channel: ch, clientId: 'my-index' });
  t.same([r.status, r.json.code], [404, 'ConsumerNotFound']);
  t.equal(await redisCommand(REDIS_PORT, 'GET', 'last-fetched:my-index:' + ch), '2', 'the key it does not name is kept');
  r = await forget(s, { secret: s.secret, clientId: 'x' });
  t.same([r.status, r.json.message], [400, 'Invalid Channel']);
  r = await forget(s, { secret: s.secret, channel: ch });
  t.same([r.status, r.json.message], [400, 'Invalid Client ID']);
  r = await forget(s, { secret: s.secret, channel: 'indices', clientId: 'x' });
  t.equal(r.status, 400);
  r = await forget(s, { channel: ch, clientId: 'x' });
  t.same([r.status, r.json.code], [401, 'InvalidCredentialsError'], 'the secret is required');
  r = await request(s.url, 'DELETE', '/events/v1/consumers?' + q({ channel: ch, clientId: 'x' }), undefined, { authorization: 'Bearer ' + s.secret });
  t.equal(r.status, 404, 'or the secret as a Bearer token');
  await redisCommand(REDIS_PORT, 'SET', ch + ':consumers', 'not a sorted set');
  r = await forget(s, { secret: s.secret, channel: ch, clientId: 'x' });
  t.ok(r.status >= 500 && r.json && r.json.code, 'a registry of another type: an error answer, no crash (' + r.status + ')');
  t.equal((await request(s.url, 'GET', '/health')).status, 200);
});

tap.test('channels: pages through every channel with its last id, retained count and retention rule', T, async (t) => {
  const prefix = unique();
  const s = await startServer({ env: { RETENTION_RULES: prefix + '/kept*=2:1h' } });
  t.teardown(() => s.stop());
  const mine = [prefix + '/a', prefix + '/b', prefix + '/kept', prefix + '/c', prefix + '/d'];
  for (let i = 0; i < mine.length; i++) await publish(s, mine[i], i + 1);
  const seen = new Map();
  let cursor = null, pages = 0;
  do {
    const r = await request(s.url, 'GET', '/events/v1/channels?' + q(Object.assign({ secret: s.secret, limit: 2 }, cursor ? { cursor } : {})));
    t.equal(r.status, 200);
    if (r.status !== 200) break;
    for (const c of r.json.channels) seen.set(c.channel, c);
    cursor = r.json.cursor;
    pages++;
  } while (cursor !== null && pages < 10000);
  t.ok(pages > 1, 'more than one page at limit=2');
  t.same(mine.map((c) => seen.has(c)), mine.map(() => true), 'every channel once the cursor is null');
  t.same(seen.get(prefix + '/b'), { channel: prefix + '/b', last: 2, retained: 2, retention: { maxEvents: 0, maxAge: 0 } });
  t.same(seen.get(prefix + '/kept'), { channel: prefix + '/kept', last: 3, retained: 2, retention: { maxEvents: 2, maxAge: 3600000 } });

  let r = await request(s.url, 'GET', '/events/v1/channels?' + q({ secret: s.secret, cursor: 'x' }));
  t.same([r.status, r.json.message], [400, 'Invalid cursor']);
  r = await request(s.url, 'GET', '/events/v1/channels?' + q({ secret: s.secret, limit: 1001 }));
  t.same([r.status, r.json.message], [400, 'Invalid limit (1 to 1000)']);
  r = await request(s.url, 'GET', '/events/v1/channels');
  t.equal(r.status, 401);
});

const gauges = (text, name) => text.split('\n').filter((l) => l.startsWith(name + '{')).map((l) => {
  const m = /^[a-z_]+\{(.*)\} (\d+)$/.exec(l);
  const labels = Object.fromEntries([...m[1].matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
  return Object.assign(labels, { value: Number(m[2]) });
});
const sortBy = (list) => list.slice().sort((a, b) => (a.channel + ' ' + a.client_id < b.channel + ' ' + b.client_id ? -1 : 1));
async function metricsWhen(t, s, cond, ms = limit(10000)) {
  const end = Date.now() + ms;
  for (;;) {
    const body = (await request(s.url, 'GET', '/metrics')).body;
    if (cond(body)) return body;
    if (Date.now() > end) { t.fail('the gauges never showed what was expected:\n' + body); return body; }
    await sleep(100);
  }
}

tap.test('metrics: lag gauges for the selected consumers only, refreshed, off by default', T, async (t) => {
  const prefix = unique();
  const [a, b, other] = [prefix + '/a', prefix + '/b', unique()];
  const off = await startServer();
  t.teardown(() => off.stop());
  await publish(off, a, 5);
  await publish(off, b, 3);
  await publish(off, other, 2);
  await read(off, { clientId: 'mailer-1', channel: a, after: 1 });
  await read(off, { clientId: 'mailer-2', channel: b, after: 0 });
  await read(off, { clientId: 'audit', channel: a, after: 0 });
  await read(off, { clientId: 'mailer-1', channel: other, after: 0 });
  const plain = (await request(off.url, 'GET', '/metrics')).body;
  t.notOk(/ganomede_events_consumer_lag|ganomede_events_channel_retained_events/.test(plain), 'no lag gauge without METRICS_LAG');

  const s = await startServer({ env: { METRICS_LAG: prefix + '/*=mailer-*', METRICS_LAG_INTERVAL: '1' } });
  t.teardown(() => s.stop());
  let body = await metricsWhen(t, s, (x) => gauges(x, 'ganomede_events_consumer_lag').length >= 2);
  t.same(sortBy(gauges(body, 'ganomede_events_consumer_lag')), [
    { channel: a, client_id: 'mailer-1', value: 4 },
    { channel: b, client_id: 'mailer-2', value: 3 },
  ], 'the selection: channels under the prefix, clients mailer-*');
  t.same(sortBy(gauges(body, 'ganomede_events_channel_retained_events').filter((g) => g.channel.startsWith(prefix))),
    [{ channel: a, value: 5 }, { channel: b, value: 3 }]);
  t.notOk(gauges(body, 'ganomede_events_channel_retained_events').some((g) => g.channel === other));
  t.match(body, /# TYPE ganomede_events_consumer_lag gauge/);
  t.match(body, /\nganomede_events_consumer_lag_series_dropped 0\n/);

  await read(s, { clientId: 'mailer-1', channel: a, after: 5 });
  body = await metricsWhen(t, s, (x) => gauges(x, 'ganomede_events_consumer_lag').some((g) => g.channel === a && g.value === 0));
  t.pass('the lag of mailer-1 on a went from 4 to 0 once it read');
});

tap.test('metrics: label sets stop at METRICS_LAG_MAX_SERIES, the rest counted', T, async (t) => {
  const prefix = unique();
  const s = await startServer({ env: { METRICS_LAG: prefix + '/*', METRICS_LAG_INTERVAL: '1', METRICS_LAG_MAX_SERIES: '2' } });
  t.teardown(() => s.stop());
  await publish(s, prefix + '/a', 2);
  await publish(s, prefix + '/b', 2);
  for (const c of ['x', 'y', 'z']) await read(s, { clientId: c, channel: prefix + '/a', after: 0 });
  await read(s, { clientId: 'x', channel: prefix + '/b', after: 0 });
  const body = await metricsWhen(t, s, (x) => /\nganomede_events_consumer_lag_series_dropped [1-9]/.test(x));
  t.equal(gauges(body, 'ganomede_events_consumer_lag').length, 2, 'two consumer series, the cap');
  t.equal(gauges(body, 'ganomede_events_channel_retained_events').length, 2);
  t.match(body, /\nganomede_events_consumer_lag_series_dropped 2\n/, 'four selected, two left out');
  t.match(s.stdout, /METRICS_LAG selects more than METRICS_LAG_MAX_SERIES \(2\) series: 2 left out/);
});

tap.test('metrics: a bad METRICS_LAG or limit stops the start with a message', T, async (t) => {
  for (const [env, re] of [[{ METRICS_LAG: 'a,,b' }, /METRICS_LAG: "" is not CHANNEL_PATTERN/],
    [{ METRICS_LAG: 'a=' }, /METRICS_LAG: "a=" is not/], [{ METRICS_LAG: 'a', METRICS_LAG_MAX_SERIES: '0' }, /METRICS_LAG_MAX_SERIES/],
    [{ METRICS_LAG: 'a', METRICS_LAG_INTERVAL: '5s' }, /METRICS_LAG_INTERVAL/]]) {
    const s = await startServer({ env, wait: false });
    const e = await s.exited;
    t.equal(e.code, 1, JSON.stringify(env));
    t.match(s.stderr, re);
  }
});
