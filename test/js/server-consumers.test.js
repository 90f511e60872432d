'use strict';
// Where consumers stand: GET /events/v1/consumers (cursor, lag, last read)
// and GET /events/v1/channels (paged), over a real daemon and Redis.
const tap = require('tap');
const { startServer, request, unique, sleep, limit } = require('../lib/harness');

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
  t.same([r.status, r.headers.get('allow')], [405, 'GET']);
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
