'use strict';
// The REST API of docs/protocol.md over real HTTP against the real daemon and Redis:
// every route, its answers and errors, and the exact Redis layout.
const tap = require('tap');
const net = require('node:net');
const { REDIS_PORT, startServer, request, redisCommand, unique, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

let srv;
tap.before(async () => { srv = await startServer({ env: { POLL_TIMEOUT: '300' } }); });
tap.teardown(async () => { await srv.stop(); });

const post = (path, body, headers) => request(srv.url, 'POST', path, body, headers);
const get = (path) => request(srv.url, 'GET', path);
const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const publish = (channel, extra = {}) => post('/events/v1/events',
  Object.assign({ secret: srv.secret, clientId: 'c1', channel, from: 'tests', type: 'T' }, extra));

tap.test('publish answers the stored event with ids 1, 2, 3 per channel', T, async (t) => {
  const ch = unique();
  const before = Date.now();
  const r1 = await publish(ch, { data: { a: 1 } });
  t.equal(r1.status, 200);
  t.match(r1.headers.get('content-type'), /^application\/json/);
  t.strictSame(Object.keys(r1.json), ['id', 'timestamp', 'type', 'from', 'data']);
  t.equal(r1.json.id, 1);
  t.ok(r1.json.timestamp >= before && r1.json.timestamp <= Date.now());
  t.strictSame(r1.json.data, { a: 1 });
  t.equal((await publish(ch)).json.id, 2);
  const r3 = await publish(ch);
  t.equal(r3.json.id, 3);
  t.equal(r3.body.includes('"data"'), false, 'no data key when none was sent');
  t.equal((await publish(unique())).json.id, 1, 'ids are per channel');
});

tap.test('data comes back exactly as sent: numbers keep their text', T, async (t) => {
  const ch = unique();
  const raw = '{"secret":"' + srv.secret + '","clientId":"c","channel":"' + ch + '","from":"f","type":"t",' +
    '"data": { "x" : 0.1, "big": 123456789012345678901234567890, "e": 1E+2, "s": "caf\\u00e9 \\ud83d\\ude00", "arr": [1, 2.50] }}';
  const r = await post('/events/v1/events', raw, { 'content-type': 'application/json' });
  t.equal(r.status, 200);
  const want = '"data":{"x":0.1,"big":123456789012345678901234567890,"e":1E+2,"s":"café 😀","arr":[1,2.50]}}';
  t.ok(r.body.endsWith(want), r.body);
  const stored = await redisCommand(REDIS_PORT, 'GET', ch + ':1');
  t.equal(stored, r.body);
  const read = await get('/events/v1/events?' + q({ secret: srv.secret, clientId: 'c', channel: ch, after: 0 }));
  t.equal(read.body, '[' + r.body + ']');
});

tap.test('Redis layout after publishing and acknowledging is the original one', T, async (t) => {
  const ch = unique('layout');
  const r = await publish(ch, { type: 'MOVE', from: 'turngame/v1', data: { m: [1] } });
  t.equal(await redisCommand(REDIS_PORT, 'GET', 'indices:' + ch), '1');
  t.equal(await redisCommand(REDIS_PORT, 'GET', ch + ':1'),
    '{"id":1,"timestamp":' + r.json.timestamp + ',"type":"MOVE","from":"turngame/v1","data":{"m":[1]}}');
  t.strictSame(await redisCommand(REDIS_PORT, 'ZRANGE', ch + ':keys', 0, -1, 'WITHSCORES'), [ch + ':1', '1']);
  await get('/events/v1/events?' + q({ secret: srv.secret, clientId: 'cl', channel: ch, after: 1 }));
  t.equal(await redisCommand(REDIS_PORT, 'GET', 'last-fetched:cl:' + ch), '1');
});

tap.test('an event stored by the original server is read back unchanged', T, async (t) => {
  const ch = unique('orig');
  const ev = '{"id":1,"timestamp":1429084002258,"type":"MOVE","from":"turngame/v1","data":{"x":1}}';
  await redisCommand(REDIS_PORT, 'SET', 'indices:' + ch, '1');
  await redisCommand(REDIS_PORT, 'SET', ch + ':1', ev);
  await redisCommand(REDIS_PORT, 'ZADD', ch + ':keys', '1', ch + ':1');
  const r = await get('/events/v1/events?' + q({ secret: srv.secret, clientId: 'x', channel: ch, after: 0 }));
  t.equal(r.body, '[' + ev + ']');
  t.equal((await publish(ch)).json.id, 2, 'ids continue after the original ones');
});

tap.test('GET resumes from the stored last-fetched id when after is absent', T, async (t) => {
  const ch = unique();
  for (let i = 0; i < 5; i++) await publish(ch);
  const base = { secret: srv.secret, clientId: 'resumer', channel: ch };
  let r = await get('/events/v1/events?' + q(base));
  t.strictSame(r.json.map((e) => e.id), [1, 2, 3, 4, 5]);
  r = await get('/events/v1/events?' + q(Object.assign({ after: 3 }, base)));
  t.strictSame(r.json.map((e) => e.id), [4, 5]);
  r = await get('/events/v1/events?' + q(base));
  t.strictSame(r.json.map((e) => e.id), [4, 5], 'resumes after the acknowledged 3');
  t.equal(await redisCommand(REDIS_PORT, 'GET', 'last-fetched:resumer:' + ch), '3', 'absent after stores nothing');
  r = await get('/events/v1/events?' + q(Object.assign({ after: 1, limit: 2 }, base)));
  t.strictSame(r.json.map((e) => e.id), [2, 3]);
});

tap.test('after and limit follow the integer rule; bad values fall back to defaults', T, async (t) => {
  const ch = unique();
  for (let i = 0; i < 3; i++) await publish(ch);
  const ids = async (extra) => (await get('/events/v1/events?' +
    q(Object.assign({ secret: srv.secret, clientId: 'ints', channel: ch }, extra)))).json.map((e) => e.id);
  t.strictSame(await ids({ after: '2.0' }), [1, 2, 3], '"2.0" counts as 0');
  t.strictSame(await ids({ after: ' 2' }), [1, 2, 3]);
  t.strictSame(await ids({ after: '02' }), [1, 2, 3]);
  t.strictSame(await ids({ after: '-1' }), [1, 2, 3]);
  t.strictSame(await ids({ after: '99999999999999999999999' }), [1, 2, 3]);
  t.equal(await redisCommand(REDIS_PORT, 'GET', 'last-fetched:ints:' + ch), '0', 'an invalid after acknowledges 0');
  t.strictSame(await ids({ after: '1', limit: '0' }), [2, 3], 'limit 0 counts as 100');
  t.strictSame(await ids({ after: '0', limit: '1.5' }), [1, 2, 3]);
  t.strictSame(await ids({ after: '0', limit: '2' }), [1, 2]);
});

tap.test('latest answers the last events oldest first, without waiting', T, async (t) => {
  const ch = unique();
  for (let i = 0; i < 5; i++) await publish(ch);
  let r = await get('/events/v1/latest?' + q({ secret: srv.secret, channel: ch, limit: 2 }));
  t.strictSame(r.json.map((e) => e.id), [4, 5]);
  r = await get('/latest?' + q({ secret: srv.secret, channel: ch }));
  t.strictSame(r.json.map((e) => e.id), [1, 2, 3, 4, 5]);
  const t0 = Date.now();
  r = await get('/events/v1/latest?' + q({ secret: srv.secret, channel: unique() }));
  t.strictSame(r.json, []);
  t.ok(Date.now() - t0 < limit(250), 'empty channel answers at once');
  r = await get('/events/v1/latest?' + q({ secret: srv.secret }));
  t.strictSame([r.status, r.json], [400, { code: 'InvalidContent', message: 'Invalid Channel' }]);
});

tap.test('publish parameter errors, in order', T, async (t) => {
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
    t.strictSame([r.status, r.json], [400, { code: 'InvalidContent', message }], JSON.stringify(change));
  }
  for (const data of [{}, [], [0], { a: null }]) {
    t.equal((await post('/events/v1/events', Object.assign({}, full, { channel: unique(), data }))).status, 200);
  }
});

tap.test('bad JSON is a 400 Invalid JSON; form bodies are accepted', T, async (t) => {
  for (const body of ['{', '{"a":1} x', '\xff', '{"a":01}', '[' .repeat(100000)]) {
    const r = await post('/events/v1/events', body, { 'content-type': 'application/json' });
    t.equal(r.status, 400, body.slice(0, 20));
    t.equal(r.json.code, 'InvalidContent');
    t.match(r.json.message, /^Invalid JSON/);
  }
  const ch = unique();
  const r = await post('/events/v1/events', q({ secret: srv.secret, clientId: 'c', channel: ch, from: 'f', type: 't' }),
    { 'content-type': 'application/x-www-form-urlencoded' });
  t.equal(r.status, 200);
  t.strictSame([r.json.id, r.json.type, r.json.from], [1, 't', 'f']);
  const bad = await post('/events/v1/events', q({ secret: srv.secret, clientId: 'c', channel: ch, from: 'f', type: 't', data: 'x' }),
    { 'content-type': 'application/x-www-form-urlencoded' });
  t.strictSame([bad.status, bad.json.message], [400, 'Invalid data']);
});

tap.test('secret: body or query, 401 before parameter errors, constant message', T, async (t) => {
  const noSecret = await post('/events/v1/events', { clientId: '' });
  t.strictSame([noSecret.status, noSecret.json.code], [401, 'InvalidCredentialsError']);
  const wrong = await post('/events/v1/events', { secret: srv.secret + 'x', clientId: 'c', channel: 'c', from: 'f', type: 't' });
  t.equal(wrong.status, 401);
  const prefix = await get('/events/v1/events?' + q({ secret: srv.secret.slice(0, -1), clientId: 'c', channel: 'c' }));
  t.equal(prefix.status, 401);
  const viaQuery = await post('/events/v1/events?secret=' + encodeURIComponent(srv.secret),
    { clientId: 'c', channel: unique(), from: 'f', type: 't' });
  t.equal(viaQuery.status, 200);
  for (const path of ['/events/v1/latest?channel=x', '/latest?channel=x', '/events/v1/indices/i/v']) {
    t.equal((await get(path)).status, 401, path);
  }
  t.equal((await post('/events/v1/indices', { id: 'i', channel: 'c', field: 'f' })).status, 401);
});

tap.test('unknown paths are 404, wrong methods 405, with JSON bodies', T, async (t) => {
  let r = await get('/nope');
  t.strictSame([r.status, r.json.code], [404, 'ResourceNotFound']);
  r = await get('/events/v1/events/extra');
  t.equal(r.status, 404);
  r = await request(srv.url, 'DELETE', '/events/v1/events');
  t.strictSame([r.status, r.json.code], [405, 'MethodNotAllowed']);
  t.match(r.headers.get('content-type'), /^application\/json/);
  r = await request(srv.url, 'PUT', '/events/v1/indices', { secret: srv.secret });
  t.equal(r.status, 405);
  r = await post('/events/v1/latest', { secret: srv.secret });
  t.equal(r.status, 405);
  r = await post('/events/v1/about', {});
  t.equal(r.status, 405);
});

// One raw exchange on a connection of its own: everything the daemon sent
// until it closed the connection.
function rawExchange(port, text, ms = 10000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no close within ' + limit(ms) + ' ms: ' + out)); }, limit(ms));
    s.on('data', (d) => { out += d.toString('latin1'); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => { clearTimeout(timer); resolve(out); });
    s.write(text);
  });
}

tap.test('HEAD answers carry headers only, everywhere', T, async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const paths = ['/health', '/metrics', '/events/v1/ping/x', '/nope', '/about',
    '/events/v1/events?secret=' + server.secret + '&channel=x&clientId=c'];
  for (const p of paths) {
    const out = await rawExchange(server.port, 'HEAD ' + p + ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const end = out.indexOf('\r\n\r\n');
    t.ok(end > 0, 'a head for ' + p);
    t.equal(out.slice(end + 4), '', 'no body after the head of HEAD ' + p);
    // Node's own client fails a HEAD answer that carries a body.
    const status = await new Promise((resolve, reject) => {
      const req = require('node:http').request(server.url + p, { method: 'HEAD', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end();
    });
    t.ok(status >= 200, 'node reads HEAD ' + p + ' (' + status + ')');
  }
  // Pipelined behind a HEAD, the next answer is read as the next answer.
  const out = await rawExchange(server.port, 'HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /events/v1/ping/two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(out, /^HTTP\/1\.1 404 [^\r]*\r\n(?:[^\r]+\r\n)*\r\nHTTP\/1\.1 200 /, 'two answers, the first without body');
  t.match(out, /"pong\/two"$/);
});

tap.test('405 answers carry Allow', T, async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const cases = [['DELETE', '/events/v1/events', 'GET, POST'], ['PUT', '/health', 'GET, HEAD'],
    ['GET', '/events/v1/indices', 'POST'], ['POST', '/about', 'GET'], ['PATCH', '/events/v1/ping/x', 'GET, HEAD']];
  for (const [m, p, allow] of cases) {
    const res = await request(server.url, m, p);
    t.equal(res.status, 405, m + ' ' + p);
    t.equal(res.headers.get('allow'), allow, 'Allow of ' + p);
    t.equal(res.json.code, 'MethodNotAllowed');
  }
});

tap.test('GET parameter errors', T, async (t) => {
  let r = await get('/events/v1/events?' + q({ secret: srv.secret, channel: 'c' }));
  t.strictSame([r.status, r.json], [400, { code: 'InvalidContent', message: 'Invalid Client ID' }]);
  r = await get('/events/v1/events?' + q({ secret: srv.secret, clientId: 'c' }));
  t.strictSame([r.status, r.json.message], [400, 'Invalid Channel']);
  r = await get('/events/v1/events?secret=' + encodeURIComponent(srv.secret) + '&clientId=a&clientId=b&channel=c');
  t.strictSame([r.status, r.json.message], [400, 'Invalid Client ID'], 'a repeated parameter is not a string');
});

tap.test('about and ping', T, async (t) => {
  for (const path of ['/about', '/events/v1/about']) {
    const r = await get(path);
    t.equal(r.status, 200);
    t.equal(r.json.type, 'ganomede-events');
    for (const k of ['hostname', 'version', 'description', 'startDate']) t.equal(typeof r.json[k], 'string', k);
    t.ok(!Number.isNaN(Date.parse(r.json.startDate)));
  }
  let r = await get('/events/v1/ping/hello%20there');
  t.strictSame([r.status, r.json], [200, 'pong/hello there']);
  r = await request(srv.url, 'HEAD', '/events/v1/ping/x');
  t.strictSame([r.status, r.body], [200, '']);
});

tap.test('bodies larger than MAX_BODY_BYTES get 413 PayloadTooLarge, and the server goes on', T, async (t) => {
  const small = await startServer({ env: { MAX_BODY_BYTES: '1000' } });
  try {
    const big = { secret: small.secret, clientId: 'c', channel: unique(), from: 'f', type: 't', data: { s: 'x'.repeat(2000) } };
    let r = await request(small.url, 'POST', '/events/v1/events', big);
    t.strictSame([r.status, r.json.code], [413, 'PayloadTooLarge']);
    big.data.s = 'x';
    r = await request(small.url, 'POST', '/events/v1/events', big);
    t.equal(r.status, 200);
  } finally { await small.stop(); }
});

tap.test('publishing and reading survive SCRIPT FLUSH (EVALSHA falls back to EVAL)', T, async (t) => {
  const ch = unique();
  t.equal((await publish(ch)).status, 200);
  t.equal(await redisCommand(REDIS_PORT, 'SCRIPT', 'FLUSH'), 'OK');
  const r = await publish(ch);
  t.strictSame([r.status, r.json.id], [200, 2]);
  const g = await get('/events/v1/events?' + q({ secret: srv.secret, clientId: 'f', channel: ch, after: 0 }));
  t.strictSame(g.json.map((e) => e.id), [1, 2]);
});

tap.test('a channel whose ids have holes (written by something else) is read past them', T, async (t) => {
  const ch = unique('holes');
  const ev = (id) => '{"id":' + id + ',"timestamp":1,"type":"t","from":"f"}';
  for (const id of [1, 2, 150]) {
    await redisCommand(REDIS_PORT, 'SET', ch + ':' + id, ev(id));
    await redisCommand(REDIS_PORT, 'ZADD', ch + ':keys', String(id), ch + ':' + id);
  }
  await redisCommand(REDIS_PORT, 'SET', 'indices:' + ch, '150');
  const ids = async (after, limit) => (await get('/events/v1/events?' + q(Object.assign({ secret: srv.secret, clientId: 'h', channel: ch, after },
    limit ? { limit } : {})))).json.map((e) => e.id);
  t.strictSame(await ids(0), [1, 2]);
  t.strictSame(await ids(2), [150], 'a hole wider than the page');
  t.strictSame(await ids(0, 500), [1, 2, 150]);
  t.equal((await publish(ch)).json.id, 151);
  t.strictSame(await ids(150), [151]);
});
