'use strict';
// The REST API of docs/protocol.md over real HTTP against the real daemon and Redis:
// every route, its answers and errors, and the exact Redis layout.
const tap = require('tap');
const assert = require('node:assert/strict');
const { startServer, request, redisCommand, unique, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

const REDIS = Number(process.env.GE_TEST_REDIS_PORT || 6379);
let srv;
tap.before(async () => { srv = await startServer({ env: { POLL_TIMEOUT: '300' } }); });
tap.teardown(async () => { await srv.stop(); });

const post = (path, body, headers) => request(srv.url, 'POST', path, body, headers);
const get = (path) => request(srv.url, 'GET', path);
const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const publish = (channel, extra = {}) => post('/events/v1/events',
  Object.assign({ secret: srv.secret, clientId: 'c1', channel, from: 'tests', type: 'T' }, extra));

tap.test('publish answers the stored event with ids 1, 2, 3 per channel', T, async () => {
  const ch = unique();
  const before = Date.now();
  const r1 = await publish(ch, { data: { a: 1 } });
  assert.equal(r1.status, 200);
  assert.match(r1.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(Object.keys(r1.json), ['id', 'timestamp', 'type', 'from', 'data']);
  assert.equal(r1.json.id, 1);
  assert.ok(r1.json.timestamp >= before && r1.json.timestamp <= Date.now());
  assert.deepEqual(r1.json.data, { a: 1 });
  assert.equal((await publish(ch)).json.id, 2);
  const r3 = await publish(ch);
  assert.equal(r3.json.id, 3);
  assert.equal(r3.body.includes('"data"'), false, 'no data key when none was sent');
  assert.equal((await publish(unique())).json.id, 1, 'ids are per channel');
});

tap.test('data comes back exactly as sent: numbers keep their text', T, async () => {
  const ch = unique();
  const raw = '{"secret":"' + srv.secret + '","clientId":"c","channel":"' + ch + '","from":"f","type":"t",' +
    '"data": { "x" : 0.1, "big": 123456789012345678901234567890, "e": 1E+2, "s": "caf\\u00e9 \\ud83d\\ude00", "arr": [1, 2.50] }}';
  const r = await post('/events/v1/events', raw, { 'content-type': 'application/json' });
  assert.equal(r.status, 200);
  const want = '"data":{"x":0.1,"big":123456789012345678901234567890,"e":1E+2,"s":"café 😀","arr":[1,2.50]}}';
  assert.ok(r.body.endsWith(want), r.body);
  const stored = await redisCommand(REDIS, 'GET', ch + ':1');
  assert.equal(stored, r.body);
  const read = await get('/events/v1/events?' + q({ secret: srv.secret, clientId: 'c', channel: ch, after: 0 }));
  assert.equal(read.body, '[' + r.body + ']');
});

tap.test('Redis layout after publishing and acknowledging is the original one', T, async () => {
  const ch = unique('layout');
  const r = await publish(ch, { type: 'MOVE', from: 'turngame/v1', data: { m: [1] } });
  assert.equal(await redisCommand(REDIS, 'GET', 'indices:' + ch), '1');
  assert.equal(await redisCommand(REDIS, 'GET', ch + ':1'),
    '{"id":1,"timestamp":' + r.json.timestamp + ',"type":"MOVE","from":"turngame/v1","data":{"m":[1]}}');
  assert.deepEqual(await redisCommand(REDIS, 'ZRANGE', ch + ':keys', 0, -1, 'WITHSCORES'), [ch + ':1', '1']);
  await get('/events/v1/events?' + q({ secret: srv.secret, clientId: 'cl', channel: ch, after: 1 }));
  assert.equal(await redisCommand(REDIS, 'GET', 'last-fetched:cl:' + ch), '1');
});

tap.test('an event stored by the original server is read back unchanged', T, async () => {
  const ch = unique('orig');
  const ev = '{"id":1,"timestamp":1429084002258,"type":"MOVE","from":"turngame/v1","data":{"x":1}}';
  await redisCommand(REDIS, 'SET', 'indices:' + ch, '1');
  await redisCommand(REDIS, 'SET', ch + ':1', ev);
  await redisCommand(REDIS, 'ZADD', ch + ':keys', '1', ch + ':1');
  const r = await get('/events/v1/events?' + q({ secret: srv.secret, clientId: 'x', channel: ch, after: 0 }));
  assert.equal(r.body, '[' + ev + ']');
  assert.equal((await publish(ch)).json.id, 2, 'ids continue after the original ones');
});

tap.test('GET resumes from the stored last-fetched id when after is absent', T, async () => {
  const ch = unique();
  for (let i = 0; i < 5; i++) await publish(ch);
  const base = { secret: srv.secret, clientId: 'resumer', channel: ch };
  let r = await get('/events/v1/events?' + q(base));
  assert.deepEqual(r.json.map((e) => e.id), [1, 2, 3, 4, 5]);
  r = await get('/events/v1/events?' + q(Object.assign({ after: 3 }, base)));
  assert.deepEqual(r.json.map((e) => e.id), [4, 5]);
  r = await get('/events/v1/events?' + q(base));
  assert.deepEqual(r.json.map((e) => e.id), [4, 5], 'resumes after the acknowledged 3');
  assert.equal(await redisCommand(REDIS, 'GET', 'last-fetched:resumer:' + ch), '3', 'absent after stores nothing');
  r = await get('/events/v1/events?' + q(Object.assign({ after: 1, limit: 2 }, base)));
  assert.deepEqual(r.json.map((e) => e.id), [2, 3]);
});

tap.test('after and limit follow the integer rule; bad values fall back to defaults', T, async () => {
  const ch = unique();
  for (let i = 0; i < 3; i++) await publish(ch);
  const ids = async (extra) => (await get('/events/v1/events?' +
    q(Object.assign({ secret: srv.secret, clientId: 'ints', channel: ch }, extra)))).json.map((e) => e.id);
  assert.deepEqual(await ids({ after: '2.0' }), [1, 2, 3], '"2.0" counts as 0');
  assert.deepEqual(await ids({ after: ' 2' }), [1, 2, 3]);
  assert.deepEqual(await ids({ after: '02' }), [1, 2, 3]);
  assert.deepEqual(await ids({ after: '-1' }), [1, 2, 3]);
  assert.deepEqual(await ids({ after: '99999999999999999999999' }), [1, 2, 3]);
  assert.equal(await redisCommand(REDIS, 'GET', 'last-fetched:ints:' + ch), '0', 'an invalid after acknowledges 0');
  assert.deepEqual(await ids({ after: '1', limit: '0' }), [2, 3], 'limit 0 counts as 100');
  assert.deepEqual(await ids({ after: '0', limit: '1.5' }), [1, 2, 3]);
  assert.deepEqual(await ids({ after: '0', limit: '2' }), [1, 2]);
});

tap.test('latest answers the last events oldest first, without waiting', T, async () => {
  const ch = unique();
  for (let i = 0; i < 5; i++) await publish(ch);
  let r = await get('/events/v1/latest?' + q({ secret: srv.secret, channel: ch, limit: 2 }));
  assert.deepEqual(r.json.map((e) => e.id), [4, 5]);
  r = await get('/latest?' + q({ secret: srv.secret, channel: ch }));
  assert.deepEqual(r.json.map((e) => e.id), [1, 2, 3, 4, 5]);
  const t0 = Date.now();
  r = await get('/events/v1/latest?' + q({ secret: srv.secret, channel: unique() }));
  assert.deepEqual(r.json, []);
  assert.ok(Date.now() - t0 < limit(250), 'empty channel answers at once');
  r = await get('/events/v1/latest?' + q({ secret: srv.secret }));
  assert.deepEqual([r.status, r.json], [400, { code: 'InvalidContent', message: 'Invalid Channel' }]);
});

tap.test('publish parameter errors, in order', T, async () => {
  const full = { secret: srv.secret, clientId: 'c', channel: 'ch', from: 'f', type: 't' };
  const cases = [
    [{ clientId: undefined }, 'Invalid Client ID'],
    [{ clientId: '' }, 'Invalid Client ID'],
    [{ clientId: 12 }, 'Invalid Client ID'],
    [{ channel: undefined }, 'Invalid Channel'],
    [{ channel: ['a'] }, 'Invalid Channel'],
    [{ channel: 'a\u0000b' }, 'Invalid Channel'],
    [{ from: '' }, 'Invalid from'],
    [{ type: null }, 'Invalid type'],
    [{ data: null }, 'Invalid data'],
    [{ data: false }, 'Invalid data'],
    [{ data: 0 }, 'Invalid data'],
    [{ data: '' }, 'Invalid data'],
    [{ data: 'str' }, 'Invalid data'],
    [{ data: 42 }, 'Invalid data'],
    [{ channel: '', from: '' }, 'Invalid Channel'],
  ];
  for (const [change, message] of cases) {
    const body = Object.assign({}, full, change);
    const r = await post('/events/v1/events', body);
    assert.deepEqual([r.status, r.json], [400, { code: 'InvalidContent', message }], JSON.stringify(change));
  }
  for (const data of [{}, [], [0], { a: null }]) {
    assert.equal((await post('/events/v1/events', Object.assign({}, full, { channel: unique(), data }))).status, 200);
  }
});

tap.test('bad JSON is a 400 Invalid JSON; form bodies are accepted', T, async () => {
  for (const body of ['{', '{"a":1} x', '\xff', '{"a":01}', '[' .repeat(100000)]) {
    const r = await post('/events/v1/events', body, { 'content-type': 'application/json' });
    assert.equal(r.status, 400, body.slice(0, 20));
    assert.equal(r.json.code, 'InvalidContent');
    assert.match(r.json.message, /^Invalid JSON/);
  }
  const ch = unique();
  const r = await post('/events/v1/events', q({ secret: srv.secret, clientId: 'c', channel: ch, from: 'f', type: 't' }),
    { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(r.status, 200);
  assert.deepEqual([r.json.id, r.json.type, r.json.from], [1, 't', 'f']);
  const bad = await post('/events/v1/events', q({ secret: srv.secret, clientId: 'c', channel: ch, from: 'f', type: 't', data: 'x' }),
    { 'content-type': 'application/x-www-form-urlencoded' });
  assert.deepEqual([bad.status, bad.json.message], [400, 'Invalid data']);
});

tap.test('secret: body or query, 401 before parameter errors, constant message', T, async () => {
  const noSecret = await post('/events/v1/events', { clientId: '' });
  assert.deepEqual([noSecret.status, noSecret.json.code], [401, 'InvalidCredentialsError']);
  const wrong = await post('/events/v1/events', { secret: srv.secret + 'x', clientId: 'c', channel: 'c', from: 'f', type: 't' });
  assert.equal(wrong.status, 401);
  const prefix = await get('/events/v1/events?' + q({ secret: srv.secret.slice(0, -1), clientId: 'c', channel: 'c' }));
  assert.equal(prefix.status, 401);
  const viaQuery = await post('/events/v1/events?secret=' + encodeURIComponent(srv.secret),
    { clientId: 'c', channel: unique(), from: 'f', type: 't' });
  assert.equal(viaQuery.status, 200);
  for (const path of ['/events/v1/latest?channel=x', '/latest?channel=x', '/events/v1/indices/i/v']) {
    assert.equal((await get(path)).status, 401, path);
  }
  assert.equal((await post('/events/v1/indices', { id: 'i', channel: 'c', field: 'f' })).status, 401);
});

tap.test('unknown paths are 404, wrong methods 405, with JSON bodies', T, async () => {
  let r = await get('/nope');
  assert.deepEqual([r.status, r.json.code], [404, 'ResourceNotFound']);
  r = await get('/events/v1/events/extra');
  assert.equal(r.status, 404);
  r = await request(srv.url, 'DELETE', '/events/v1/events');
  assert.deepEqual([r.status, r.json.code], [405, 'MethodNotAllowed']);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  r = await request(srv.url, 'PUT', '/events/v1/indices', { secret: srv.secret });
  assert.equal(r.status, 405);
  r = await post('/events/v1/latest', { secret: srv.secret });
  assert.equal(r.status, 405);
  r = await post('/events/v1/about', {});
  assert.equal(r.status, 405);
});

tap.test('GET parameter errors', T, async () => {
  let r = await get('/events/v1/events?' + q({ secret: srv.secret, channel: 'c' }));
  assert.deepEqual([r.status, r.json], [400, { code: 'InvalidContent', message: 'Invalid Client ID' }]);
  r = await get('/events/v1/events?' + q({ secret: srv.secret, clientId: 'c' }));
  assert.deepEqual([r.status, r.json.message], [400, 'Invalid Channel']);
  r = await get('/events/v1/events?secret=' + encodeURIComponent(srv.secret) + '&clientId=a&clientId=b&channel=c');
  assert.deepEqual([r.status, r.json.message], [400, 'Invalid Client ID'], 'a repeated parameter is not a string');
});

tap.test('about and ping', T, async () => {
  for (const path of ['/about', '/events/v1/about']) {
    const r = await get(path);
    assert.equal(r.status, 200);
    assert.equal(r.json.type, 'ganomede-events');
    for (const k of ['hostname', 'version', 'description', 'startDate']) assert.equal(typeof r.json[k], 'string', k);
    assert.ok(!Number.isNaN(Date.parse(r.json.startDate)));
  }
  let r = await get('/events/v1/ping/hello%20there');
  assert.deepEqual([r.status, r.json], [200, 'pong/hello there']);
  r = await request(srv.url, 'HEAD', '/events/v1/ping/x');
  assert.deepEqual([r.status, r.body], [200, '']);
});

tap.test('bodies larger than MAX_BODY_BYTES get 413 PayloadTooLarge, and the server goes on', T, async () => {
  const small = await startServer({ env: { MAX_BODY_BYTES: '1000' } });
  try {
    const big = { secret: small.secret, clientId: 'c', channel: unique(), from: 'f', type: 't', data: { s: 'x'.repeat(2000) } };
    let r = await request(small.url, 'POST', '/events/v1/events', big);
    assert.deepEqual([r.status, r.json.code], [413, 'PayloadTooLarge']);
    big.data.s = 'x';
    r = await request(small.url, 'POST', '/events/v1/events', big);
    assert.equal(r.status, 200);
  } finally { await small.stop(); }
});

tap.test('publishing and reading survive SCRIPT FLUSH (EVALSHA falls back to EVAL)', T, async () => {
  const ch = unique();
  assert.equal((await publish(ch)).status, 200);
  assert.equal(await redisCommand(REDIS, 'SCRIPT', 'FLUSH'), 'OK');
  const r = await publish(ch);
  assert.deepEqual([r.status, r.json.id], [200, 2]);
  const g = await get('/events/v1/events?' + q({ secret: srv.secret, clientId: 'f', channel: ch, after: 0 }));
  assert.deepEqual(g.json.map((e) => e.id), [1, 2]);
});

tap.test('a channel whose ids have holes (written by something else) is read past them', T, async () => {
  const ch = unique('holes');
  const ev = (id) => '{"id":' + id + ',"timestamp":1,"type":"t","from":"f"}';
  for (const id of [1, 2, 150]) {
    await redisCommand(REDIS, 'SET', ch + ':' + id, ev(id));
    await redisCommand(REDIS, 'ZADD', ch + ':keys', String(id), ch + ':' + id);
  }
  await redisCommand(REDIS, 'SET', 'indices:' + ch, '150');
  const ids = async (after, limit) => (await get('/events/v1/events?' + q(Object.assign({ secret: srv.secret, clientId: 'h', channel: ch, after },
    limit ? { limit } : {})))).json.map((e) => e.id);
  assert.deepEqual(await ids(0), [1, 2]);
  assert.deepEqual(await ids(2), [150], 'a hole wider than the page');
  assert.deepEqual(await ids(0, 500), [1, 2, 150]);
  assert.equal((await publish(ch)).json.id, 151);
  assert.deepEqual(await ids(150), [151]);
});
