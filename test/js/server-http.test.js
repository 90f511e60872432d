'use strict';
// HTTP/1.x as the daemon speaks it on a raw socket: versions and
// keep-alive, pipelining, chunked bodies, Expect, requests it cannot read.
const tap = require('tap');
const net = require('node:net');
const { startServer, request, unique, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

let srv;
tap.before(async () => { srv = await startServer({ env: { MAX_BODY_BYTES: '1000' } }); });
tap.teardown(async () => { await srv.stop(); });

// Writes the pieces (a pause between them), resolves everything read until
// the daemon closed the connection, or until `until` matches what was read
// (then the connection is still open: open is true).
function exchange(pieces, { until, ms = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer within ' + limit(ms) + ' ms: ' + out)); }, limit(ms));
    const finish = (open) => { clearTimeout(timer); s.destroy(); resolve({ out, open }); };
    s.on('data', (d) => { out += d.toString('latin1'); if (until && until.test(out)) finish(true); });
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
    s.on('connect', async () => {
      for (const p of [].concat(pieces)) {
        s.write(p);
        await new Promise((r) => setTimeout(r, 50));
      }
    });
  });
}

const answers = (out) => out.split(/(?=HTTP\/1\.[01] \d{3} )/).filter((a) => /^HTTP\/1\.[01] [2-5]/.test(a));
const publishBody = (ch) => JSON.stringify({ secret: srv.secret, clientId: 'h', channel: ch, from: 'f', type: 't' });

tap.test('HTTP/1.1: Date and Content-Length, kept alive; Connection: close is answered and closes', T, async (t) => {
  let r = await exchange('GET /events/v1/ping/a HTTP/1.1\r\nHost: x\r\n\r\n', { until: /"pong\/a"$/ });
  t.match(r.out, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(r.out, /\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
  t.match(r.out, /\r\nContent-Length: 8\r\n/);
  t.ok(r.open, 'the connection stays open');
  r = await exchange('GET /events/v1/ping/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(r.out, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(r.out, /\r\nConnection: close\r\n/);
  t.match(r.out, /"pong\/b"$/, 'the whole answer, then the close');
});

tap.test('HTTP/1.0: answered in 1.0 and closed, or kept alive when asked', T, async (t) => {
  let r = await exchange('GET /events/v1/ping/old HTTP/1.0\r\n\r\n');
  t.match(r.out, /^HTTP\/1\.0 200 OK\r\n/);
  t.match(r.out, /"pong\/old"$/);
  t.notOk(r.open, 'closed after the answer');
  r = await exchange(['GET /events/v1/ping/k1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    'GET /events/v1/ping/k2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], { until: /"pong\/k2"$/ });
  const a = answers(r.out);
  t.equal(a.length, 2, 'two answers on one connection');
  t.match(a[0], /^HTTP\/1\.0 200 OK\r\n(?:[^\r]+\r\n)*Connection: keep-alive\r\n/);
  t.match(a[0], /"pong\/k1"$/);
});

tap.test('pipelined requests are answered in order, a POST among them', T, async (t) => {
  const ch = unique();
  const body = publishBody(ch);
  const r = await exchange('GET /events/v1/ping/1 HTTP/1.1\r\nHost: x\r\n\r\n' +
    'POST /events/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ' + Buffer.byteLength(body) + '\r\n\r\n' + body +
    'GET /events/v1/ping/3 HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const a = answers(r.out);
  t.equal(a.length, 4, r.out);
  t.match(a[0], /"pong\/1"$/);
  t.match(a[1], /^HTTP\/1\.1 200 [^]*"id":1/);
  t.match(a[2], /"pong\/3"$/);
  t.match(a[3], /^HTTP\/1\.1 404 /);
});

tap.test('a chunked request body is read, also when it comes in pieces', T, async (t) => {
  const ch = unique();
  const body = publishBody(ch);
  const half = Math.floor(body.length / 2);
  const chunk = (s) => s.length.toString(16) + '\r\n' + s + '\r\n';
  const head = 'POST /events/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
  let r = await exchange([head + chunk(body.slice(0, half)), chunk(body.slice(half)) + '0\r\n\r\n']);
  t.match(r.out, /^HTTP\/1\.1 200 /);
  t.match(r.out, /"id":1/);
  // Over MAX_BODY_BYTES in chunks: 413, like a Content-Length body.
  const big = JSON.stringify({ secret: srv.secret, clientId: 'h', channel: ch, from: 'f', type: 't', data: { s: 'x'.repeat(2000) } });
  r = await exchange(head + chunk(big.slice(0, 1500)) + chunk(big.slice(1500)) + '0\r\n\r\n');
  t.match(r.out, /^HTTP\/1\.1 413 /);
  t.match(r.out, /"code":"PayloadTooLarge"/);
  t.equal((await request(srv.url, 'GET', '/events/v1/latest?secret=' + srv.secret + '&channel=' + encodeURIComponent(ch))).json.length, 1,
    'only the first was stored');
});

tap.test('Expect: 100-continue gets a 100 before the body is sent', T, async (t) => {
  const body = publishBody(unique());
  const r = await exchange(['POST /events/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n' +
    'Content-Length: ' + Buffer.byteLength(body) + '\r\nConnection: close\r\n\r\n', body]);
  t.match(r.out, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
});

tap.test('a body declared far over MAX_BODY_BYTES: 413 at once, then the connection is closed', T, async (t) => {
  const r = await exchange('POST /events/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{');
  t.match(r.out, /^HTTP\/1\.[01] 413 /);
  t.notOk(r.open, 'closed');
  t.equal((await request(srv.url, 'GET', '/health')).status, 200, 'still serving');
});

tap.test('a request that is not HTTP: 400, then the connection is closed', T, async (t) => {
  for (const bad of ['GET / HTTP/1.1\r\nHost x\r\n\r\n', 'GET /\x01 HTTP/1.1\r\n\r\n',
    'POST /events/v1/events HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n']) {
    const r = await exchange(bad);
    t.match(r.out, /^HTTP\/1\.[01] 400 /, JSON.stringify(bad));
    t.notOk(r.open, 'closed');
  }
  t.equal((await request(srv.url, 'GET', '/health')).status, 200, 'still serving');
});

tap.test('a client that pipelines much and reads late gets every answer, in order', T, async (t) => {
  // Answers of 30 KB that fill the socket buffers while the client does
  // not read, behind them more requests than the daemon keeps unread.
  const n = 200;
  const token = (i) => String(i).padStart(4, '0') + 'x'.repeat(30000);
  const got = await new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let text = '', answers = 0, inOrder = true;
    const timer = setTimeout(() => { s.destroy(); resolve({ answers, inOrder }); }, limit(20000));
    s.pause(); // not read until everything was sent
    s.on('connect', () => {
      for (let i = 0; i < n; i++) s.write('GET /events/v1/ping/' + token(i) + ' HTTP/1.1\r\nHost: x\r\n\r\n');
      setTimeout(() => s.resume(), 500);
    });
    s.on('data', (d) => {
      text += d.toString('latin1');
      let end;
      while ((end = text.indexOf('x"', 30000)) >= 0) { // one whole answer
        const m = /"pong\/(\d{4})x/.exec(text);
        if (!m || Number(m[1]) !== answers) inOrder = false;
        answers++;
        text = text.slice(end + 2);
      }
      if (answers >= n) { clearTimeout(timer); s.destroy(); resolve({ answers, inOrder }); }
    });
    s.on('error', () => {});
  });
  t.equal(got.answers, n, 'all ' + n + ' answers');
  t.ok(got.inOrder, 'in order');
});
