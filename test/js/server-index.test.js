'use strict';
// Indices: define, query, incremental indexing, 404 for unknown ids.
const tap = require('tap');
const { REDIS_PORT, startServer, request, redisCommand, unique, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

let srv;
tap.before(async () => { srv = await startServer({ env: { POLL_TIMEOUT: '3000' } }); });
tap.teardown(async () => { await srv.stop(); });

const define = (id, channel, field) => request(srv.url, 'POST', '/events/v1/indices', { secret: srv.secret, id, channel, field });
const lookup = (id, value) => request(srv.url, 'GET', '/events/v1/indices/' + encodeURIComponent(id) + '/' +
  encodeURIComponent(value) + '?secret=' + encodeURIComponent(srv.secret));
const publish = (channel, data) => request(srv.url, 'POST', '/events/v1/events',
  { secret: srv.secret, clientId: 'ix', channel, from: 'f', type: 't', data });

tap.test('define answers "OK" then null, and stores the definition', T, async (t) => {
  const id = unique('idx'), ch = unique();
  let r = await define(id, ch, 'data.user');
  t.strictSame([r.status, r.json], [200, 'OK']);
  r = await define(id, ch, 'data.other');
  t.strictSame([r.status, r.json], [200, null]);
  t.equal(await redisCommand(REDIS_PORT, 'GET', 'indices:' + id), JSON.stringify({ id, channel: ch, field: 'data.user' }));
});

tap.test('define parameter errors', T, async (t) => {
  const cases = [[{ id: '' }, 'Invalid index ID'], [{ channel: 3 }, 'Invalid Channel'], [{ field: undefined }, 'Invalid field']];
  for (const [change, message] of cases) {
    const body = Object.assign({ secret: srv.secret, id: 'a', channel: 'b', field: 'c' }, change);
    const r = await request(srv.url, 'POST', '/events/v1/indices', body);
    t.strictSame([r.status, r.json], [400, { code: 'InvalidContent', message }]);
  }
});

tap.test('GET lists the events whose field has the value, newest first, incrementally', T, async (t) => {
  const id = unique('idx'), ch = unique('ich');
  await publish(ch, { user: { name: 'bob' } });
  await publish(ch, { user: { name: 'alice' } });
  await define(id, ch, 'data.user.name');
  await publish(ch, { user: { name: 'bob' } });
  await publish(ch, { user: { name: 42 } });
  await publish(ch, { list: [{ name: 'bob' }] });
  let r = await lookup(id, 'bob');
  t.equal(r.status, 200);
  t.strictSame(Object.keys(r.json), ['id', 'field', 'value', 'rows']);
  t.strictSame([r.json.id, r.json.field, r.json.value], [id, 'data.user.name', 'bob']);
  t.strictSame(r.json.rows.map((e) => e.id), [3, 1]);
  t.equal(await redisCommand(REDIS_PORT, 'GET', 'last-fetched:' + id + ':' + ch), '5');
  t.strictSame(await redisCommand(REDIS_PORT, 'LRANGE', 'index:' + id + ':bob', 0, -1), ['3', '1']);
  await publish(ch, { user: { name: 'bob' } });
  r = await lookup(id, 'bob');
  t.strictSame(r.json.rows.map((e) => e.id), [6, 3, 1]);
  r = await lookup(id, 'alice');
  t.strictSame(r.json.rows.map((e) => e.id), [2]);
  r = await lookup(id, 'nobody');
  t.strictSame(r.json.rows, []);
  // Concurrent GETs index every event once.
  for (let i = 0; i < 20; i++) await publish(ch, { user: { name: 'carol' } });
  const all = await Promise.all(Array.from({ length: 10 }, () => lookup(id, 'carol')));
  t.ok(all.every((x) => x.json.rows.length === 20));
  t.equal((await redisCommand(REDIS_PORT, 'LRANGE', 'index:' + id + ':carol', 0, -1)).length, 20);
});

tap.test('array paths and URL-decoded segments', T, async (t) => {
  const id = unique('idx') + ' x/y', ch = unique();
  await define(id, ch, 'data.list[1].tag');
  await publish(ch, { list: [{ tag: 'a' }, { tag: 'é b' }] });
  const r = await lookup(id, 'é b');
  t.equal(r.status, 200);
  t.strictSame(r.json.rows.map((e) => e.id), [1]);
});

tap.test('unknown index is 404; an empty channel answers at once', T, async (t) => {
  let r = await lookup(unique('none'), 'v');
  t.strictSame([r.status, r.json.code], [404, 'ResourceNotFound']);
  const id = unique('idx');
  await define(id, unique('empty'), 'data.x');
  const t0 = Date.now();
  r = await lookup(id, 'v');
  t.strictSame([r.status, r.json.rows], [200, []]);
  t.ok(Date.now() - t0 < limit(1000), 'never long-polls');
});

tap.test('a large backlog is indexed in batches', T, async (t) => {
  const id = unique('idx'), ch = unique('big');
  const pubs = [];
  for (let i = 0; i < 2500; i++) pubs.push(publish(ch, { k: i % 2 ? 'odd' : 'even' }));
  await Promise.all(pubs);
  await define(id, ch, 'data.k');
  const odd = (await lookup(id, 'odd')).json.rows;
  const even = (await lookup(id, 'even')).json.rows;
  t.equal(odd.length, 1250);
  t.equal(even.length, 1250);
  t.ok(odd.every((e) => e.data.k === 'odd') && even.every((e) => e.data.k === 'even'));
  for (const rows of [odd, even]) {
    t.ok(rows.every((e, i) => i === 0 || rows[i - 1].id > e.id), 'newest first');
  }
  // Publishes ran concurrently, so which ids are odd is not known; together
  // the two lists hold every event once.
  const all = odd.concat(even).map((e) => e.id).sort((a, b) => a - b);
  t.strictSame(all, Array.from({ length: 2500 }, (_, i) => i + 1));
});
