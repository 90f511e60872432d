'use strict';
// Nasty requests: each gets a clear answer (4xx, or 200 where the input is
// legal) and the server keeps serving.
const tap = require('tap');
const net = require('node:net');
const { startServer, request, unique, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

let srv;
tap.before(async () => { srv = await startServer({ env: { POLL_TIMEOUT: '200' } }); });
tap.teardown(async () => { await srv.stop(); });

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const post = (body, headers = { 'content-type': 'application/json' }) => request(srv.url, 'POST', '/events/v1/events', body, headers);
const alive = async (t) => t.equal((await request(srv.url, 'GET', '/health')).status, 200, 'still serving');

// Send raw bytes, read until the server closes or answers; resolve the status line.
function raw(bytes, ms = 5000) {
  return new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let out = '';
    const done = () => { s.destroy(); resolve(out.split('\r\n')[0]); };
    s.setTimeout(ms, done);
    s.on('data', (d) => { out += d; if (out.includes('\r\n\r\n')) done(); });
    s.on('error', done);
    s.on('close', done);
    s.write(bytes, () => {});
  });
}

const body = (extra) => JSON.stringify(Object.assign({ secret: srv.secret, clientId: 'h', channel: unique(), from: 'f', type: 't' }, extra));

tap.test('invalid UTF-8 in a JSON body: 400 Invalid JSON', T, async (t) => {
  const buf = Buffer.concat([Buffer.from('{"secret":"' + srv.secret + '","clientId":"h","channel":"c'), Buffer.from([0xc3, 0x28]), Buffer.from('","from":"f","type":"t"}')]);
  const r = await post(buf);
  t.strictSame([r.status, r.json.code], [400, 'InvalidContent']);
  t.match(r.json.message, /^Invalid JSON/);
  await alive(t);
});

tap.test('NUL bytes inside strings: 400 naming the parameter', T, async (t) => {
  let r = await post(body({ channel: 'a\u0000b' }));
  t.strictSame([r.status, r.json.message], [400, 'Invalid Channel']);
  r = await post(body({ type: '\u0000' }));
  t.strictSame([r.status, r.json.message], [400, 'Invalid type']);
  r = await request(srv.url, 'GET', '/events/v1/events?secret=' + encodeURIComponent(srv.secret) + '&clientId=a%00b&channel=c');
  t.strictSame([r.status, r.json.message], [400, 'Invalid Client ID']);
  await alive(t);
});

tap.test('a 10 MB body: 413, never a crash', T, async (t) => {
  const r = await post(body({ data: { s: 'x'.repeat(10 * 1024 * 1024) } }));
  t.equal(r.status, 413);
  await alive(t);
});

tap.test('100,000-deep nesting: 400', T, async (t) => {
  const deep = '{"secret":"' + srv.secret + '","data":' + '['.repeat(100000) + ']'.repeat(100000) + '}';
  const r = await post(deep);
  t.equal(r.status, 400);
  t.match(r.json.message, /Invalid JSON/);
  await alive(t);
});

tap.test('after/limit of 2^63 and beyond count as defaults', T, async (t) => {
  const ch = unique();
  await post(body({ channel: ch }));
  for (const v of ['9223372036854775808', '18446744073709551616', '1' + '0'.repeat(400), '-9223372036854775809']) {
    const r = await request(srv.url, 'GET', '/events/v1/events?' + q({ secret: srv.secret, clientId: 'big', channel: ch, after: v, limit: v }));
    t.equal(r.status, 200, v);
    t.strictSame(r.json.map((e) => e.id), [1], v);
  }
  await alive(t);
});

tap.test('channel names with : % / spaces and non-ASCII are ordinary channels', T, async (t) => {
  for (const name of ['a:b:c', '100%', 'x/y/z', 'with space', 'événement 😀', ':keys']) {
    const ch = name + '-' + unique();
    const p = await post(body({ channel: ch }));
    t.strictSame([p.status, p.json.id], [200, 1], name);
    const g = await request(srv.url, 'GET', '/events/v1/events?' + q({ secret: srv.secret, clientId: 'n', channel: ch, after: 0 }));
    t.strictSame(g.json.map((e) => e.id), [1], name);
  }
  await alive(t);
});

tap.test('repeated query parameters are not strings', T, async (t) => {
  const s = encodeURIComponent(srv.secret);
  let r = await request(srv.url, 'GET', '/events/v1/events?secret=' + s + '&clientId=a&channel=x&channel=y');
  t.strictSame([r.status, r.json.message], [400, 'Invalid Channel']);
  r = await request(srv.url, 'GET', '/events/v1/events?secret=' + s + '&secret=' + s + '&clientId=a&channel=x');
  t.equal(r.status, 401, 'a repeated secret is not a secret');
  await alive(t);
});

tap.test('thousands of headers and a 1 MB request line: a 4xx or a closed connection, and the server goes on', T, async (t) => {
  let headers = '';
  for (let i = 0; i < 5000; i++) headers += 'X-H' + i + ': ' + 'v'.repeat(20) + '\r\n';
  const st1 = await raw('GET /events/v1/ping/x HTTP/1.1\r\nHost: x\r\n' + headers + '\r\n');
  t.ok(st1 === '' || /^HTTP\/1\.[01] 4\d\d/.test(st1), st1);
  const st2 = await raw('GET /events/v1/ping/' + 'a'.repeat(1024 * 1024) + ' HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(st2 === '' || /^HTTP\/1\.[01] 4\d\d/.test(st2), st2);
  const st3 = await raw('GARBAGE\r\n\r\n');
  t.ok(st3 === '' || /^HTTP\/1\.[01] 4\d\d/.test(st3), st3);
  await alive(t);
});

tap.test('a percent-encoded path that decodes to odd bytes', T, async (t) => {
  let r = await request(srv.url, 'GET', '/events/v1/indices/%00/%ff?secret=' + encodeURIComponent(srv.secret));
  t.strictSame([r.status, r.json.message], [400, 'Invalid index ID']);
  r = await request(srv.url, 'GET', '/events/v1/indices/' + unique('none') + '/%ff%fe?secret=' + encodeURIComponent(srv.secret));
  t.equal(r.status, 404);
  r = await request(srv.url, 'GET', '/events/v1/ping/%ff');
  t.equal(r.status, 200);
  t.equal(typeof r.json, 'string');
  await alive(t);
});
