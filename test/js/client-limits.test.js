'use strict';
// The Node client's bounds against broken servers and bad options: a
// server that accepts and never answers (requests, polls included, fail
// with ETIMEDOUT after requestTimeout, and polls back off), a server that
// sends a huge answer (a ResponseTooLarge error past maxResponseBytes),
// and options that are wrong (a TypeError naming them, never a silent
// default). The servers are raw node net servers in this process.
const t = require('tap');
const net = require('node:net');
const { Client, IndexerClient } = require('../..');
const { limit } = require('../lib/harness');

function listen(onConnection) {
  return new Promise((resolve) => {
    const sockets = new Set();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      onConnection(s);
    });
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(r); }),
    }));
  });
}

const cb2p = (fn) => new Promise((resolve) => fn((err, v) => resolve([err, v])));

t.test('a server that accepts and never answers: ETIMEDOUT after requestTimeout', { timeout: limit(20000) }, async (t) => {
  const srv = await listen(() => { /* read nothing, answer nothing */ });
  const c = new Client('silent', { secret: 's', hostname: '127.0.0.1', port: srv.port, requestTimeout: 300 });
  const [err] = await cb2p((cb) => c.send('ch', { from: 'a', type: 'b' }, cb));
  t.ok(err instanceof Error, 'send fails');
  t.equal(err && err.code, 'ETIMEDOUT', '... with ETIMEDOUT');
  t.equal(err && err.statusCode, 0, '... a network error');
  const [lerr] = await cb2p((cb) => c.getLatestEvents('ch', 5, cb));
  t.equal(lerr && lerr.code, 'ETIMEDOUT', 'getLatestEvents too');
  // Polls: each times out, and the next one comes after a back-off.
  const errorsAt = [];
  await new Promise((resolve) => {
    c.on('error', (e) => { errorsAt.push([Date.now(), e.code]); if (errorsAt.length === 2) resolve(); });
    c.on('ch', () => {});
  });
  c.close();
  t.same(errorsAt.map(([, code]) => code), ['ETIMEDOUT', 'ETIMEDOUT'], 'a poll ends with ETIMEDOUT and is retried');
  t.ok(errorsAt[1][0] - errorsAt[0][0] >= 300 + 90, 'the retry waited its back-off, then its own timeout');
  await srv.close();
});

t.test('an answer larger than maxResponseBytes: ResponseTooLarge, nothing buffered whole', { timeout: limit(30000) }, async (t) => {
  const block = Buffer.alloc(1 << 16, 0x20);
  // One write per chunk (size line, data, CRLF): a chunk is never cut short.
  const chunk = Buffer.concat([Buffer.from(block.length.toString(16) + '\r\n'), block, Buffer.from('\r\n')]);
  const srv = await listen((s) => {
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
      let sent = 0;
      const pump = () => {
        while (sent < 1024 && !s.destroyed) { // up to 64 MiB
          sent++;
          if (!s.write(chunk)) return s.once('drain', pump);
        }
      };
      pump();
    });
  });
  const c = new Client('huge', { secret: 's', hostname: '127.0.0.1', port: srv.port, maxResponseBytes: 1 << 20 });
  const [err] = await cb2p((cb) => c.getLatestEvents('ch', cb));
  t.ok(err instanceof Error, 'the request fails');
  t.equal(err && err.code, 'ResponseTooLarge', '... with ResponseTooLarge');
  t.match(err && err.message, /maxResponseBytes|max_response_bytes/, '... and says which bound');
  const [perr] = await new Promise((resolve) => { c.on('error', (...a) => resolve(a)); c.on('ch', () => {}); });
  t.equal(perr.code, 'ResponseTooLarge', 'a poll with a huge answer: the same error');
  c.close();
  await srv.close();
});

t.test('bad options are a TypeError naming the option, never replaced', { timeout: limit(10000) }, async (t) => {
  const base = { secret: 's', hostname: '127.0.0.1', port: 1 };
  const bad = [
    ['requestTimeout', 'abc'], ['requestTimeout', -1], ['requestTimeout', 1.5],
    ['connectTimeout', 0], ['connectTimeout', '10'], ['maxResponseBytes', 0], ['maxResponseBytes', -5],
    ['limit', 0], ['limit', 'x'], ['limit', 2.5], ['limit', 2 ** 40], ['caFile', 42], ['rejectUnauthorized', 'no'], ['agent', 'x'],
  ];
  for (const [key, value] of bad) {
    t.throws(() => new Client('id', Object.assign({}, base, { [key]: value })),
      { name: 'TypeError', message: new RegExp('options\\.' + key) }, key + ' = ' + JSON.stringify(value));
  }
  t.throws(() => new IndexerClient(Object.assign({}, base, { requestTimeout: 'soon' })), { name: 'TypeError' },
    'IndexerClient checks them the same way');
  const ok = new Client('id', Object.assign({}, base, { requestTimeout: 0, maxResponseBytes: 1024, limit: 10 }));
  t.pass('requestTimeout 0 (none), maxResponseBytes and limit accepted');
  ok.close();
});

t.test('getLatestEvents: a bad limit calls back with a TypeError, nothing is sent', { timeout: limit(10000) }, async (t) => {
  let connections = 0;
  const srv = await listen((s) => { connections++; s.destroy(); });
  const c = new Client('id', { secret: 's', hostname: '127.0.0.1', port: srv.port });
  for (const limit of [0, -3, 2.5, 'abc', {}, 2 ** 40]) {
    let sync = true;
    const [err] = await new Promise((resolve) => { c.getLatestEvents('ch', limit, (...a) => resolve(a)); sync = false; });
    t.equal(sync, false, 'called back asynchronously');
    t.ok(err instanceof TypeError && /limit/.test(err.message), 'limit ' + JSON.stringify(limit) + ': TypeError');
  }
  t.equal(connections, 0, 'no request was made');
  c.close();
  const [closedErr] = await cb2p((cb) => c.send('ch', { from: 'a', type: 'b' }, cb));
  t.equal(closedErr.code, 'ERR_CLIENT_CLOSED', 'a send after close: ERR_CLIENT_CLOSED');
  t.match(closedErr.message, /closed/, '... with the C API\'s text');
  await srv.close();
});
