'use strict';
// Configurable limits: name lengths, header size, read timeout (which must
// not cut long-polls short).
const tap = require('tap');
const net = require('node:net');
const { startServer, request, unique, sleep, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');

tap.test('channel, clientId and index names longer than MAX_NAME_BYTES are 400', T, async (t) => {
  const s = await startServer({ env: { MAX_NAME_BYTES: '16' } });
  try {
    const long = 'c'.repeat(17);
    let r = await request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'c', channel: long, from: 'f', type: 't' });
    t.strictSame([r.status, r.json.message], [400, 'Invalid Channel']);
    r = await request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'c', channel: 'c'.repeat(16), from: 'f', type: 't' });
    t.equal(r.status, 200, 'exactly the limit is fine');
    r = await request(s.url, 'GET', '/events/v1/events?' + q({ secret: s.secret, clientId: long, channel: 'x' }));
    t.strictSame([r.status, r.json.message], [400, 'Invalid Client ID']);
    r = await request(s.url, 'GET', '/events/v1/indices/' + long + '/v?secret=' + s.secret);
    t.strictSame([r.status, r.json.message], [400, 'Invalid index ID']);
  } finally { await s.stop(); }
});

tap.test('a request head larger than MAX_HEADER_BYTES is refused', T, async (t) => {
  const s = await startServer({ env: { MAX_HEADER_BYTES: '2048' } });
  try {
    const big = await fetch(s.url + '/events/v1/ping/x', { headers: { 'x-big': 'v'.repeat(4000) } }).then((r) => r.status, () => 0);
    t.ok(big === 0 || (big >= 400 && big < 500), String(big));
    t.equal((await fetch(s.url + '/events/v1/ping/x')).status, 200);
  } finally { await s.stop(); }
});

tap.test('a head over MAX_HEADER_BYTES gets a JSON 431', T, async (t) => {
  const server = await startServer({ env: { MAX_HEADER_BYTES: '4096' } });
  t.teardown(() => server.stop());
  const res = await request(server.url, 'GET', '/health', undefined, { 'x-big': 'a'.repeat(6000) });
  t.equal(res.status, 431);
  t.equal(res.headers.get('content-type'), 'application/json');
  t.equal(res.json.code, 'RequestHeaderFieldsTooLarge');
  const ok = await request(server.url, 'GET', '/health', undefined, { 'x-big': 'a'.repeat(3000) });
  t.equal(ok.status, 200, 'a head under the limit is served');
});

tap.test('READ_TIMEOUT drops stalled and idle connections but not waiting long-polls', T, async (t) => {
  const s = await startServer({ env: { READ_TIMEOUT: '1', POLL_TIMEOUT: '2500' } });
  try {
    // A client that sends half a request and stalls is dropped.
    const closedAfter = await new Promise((resolve) => {
      const c = net.connect(s.port, '127.0.0.1');
      const t0 = Date.now();
      c.on('connect', () => c.write('GET /events/v1/ping/x HTTP/1.1\r\nHost: x\r\n'));
      c.on('close', () => resolve(Date.now() - t0));
      c.on('error', () => {});
      setTimeout(() => { c.destroy(); resolve(-1); }, 8000);
    });
    t.ok(closedAfter > 0 && closedAfter < limit(6000), 'stalled connection closed after ' + closedAfter + ' ms');
    // A long-poll waiting longer than READ_TIMEOUT still gets its answer.
    const t0 = Date.now();
    const r = await fetch(s.url + '/events/v1/events?' + q({ secret: s.secret, clientId: 'w', channel: unique(), after: 0 }));
    t.equal(r.status, 200);
    t.equal(await r.text(), '[]');
    t.ok(Date.now() - t0 >= 2000, 'waited the full POLL_TIMEOUT');
    await sleep(10);
  } finally { await s.stop(); }
});

tap.test('a client trickling one byte at a time is dropped after READ_TIMEOUT', T, async (t) => {
  const s = await startServer({ env: { READ_TIMEOUT: '2' } });
  try {
    const req = 'GET /events/v1/ping/slow HTTP/1.1\r\nHost: x\r\nX-Pad: ' + 'a'.repeat(200) + '\r\n\r\n';
    const res = await new Promise((resolve) => {
      const c = net.connect(s.port, '127.0.0.1');
      let i = 0, got = '';
      const t0 = Date.now();
      const tick = setInterval(() => { if (i < req.length) c.write(req[i++]); }, 250);
      c.on('data', (d) => { got += d; });
      c.on('close', () => { clearInterval(tick); resolve({ ms: Date.now() - t0, got, sent: i }); });
      c.on('error', () => {});
      setTimeout(() => { clearInterval(tick); c.destroy(); resolve({ ms: -1, got, sent: i }); }, 10000);
    });
    t.ok(res.ms > 1500 && res.ms < limit(5000), 'closed after ' + res.ms + ' ms');
    t.ok(res.sent < req.length, 'before the request was complete');
    t.equal(res.got, '', 'without an answer');
    // Keep-alive clients that answer in time are not affected.
    for (let i = 0; i < 3; i++) {
      t.equal((await fetch(s.url + '/events/v1/ping/x')).status, 200);
      await sleep(1000);
    }
    t.equal((await fetch(s.url + '/health')).status, 200);
  } finally { await s.stop(); }
});

tap.test('MAX_CONNECTIONS: at the cap new clients wait until a connection closes', T, async (t) => {
  const s = await startServer({ env: { MAX_CONNECTIONS: '4', READ_TIMEOUT: '30' } });
  try {
    const open = [];
    for (let i = 0; i < 4; i++) {
      const c = net.connect(s.port, '127.0.0.1');
      await new Promise((r) => c.once('connect', r));
      open.push(c);
    }
    await sleep(300);
    let answeredAt = 0;
    const fifth = new Promise((resolve) => {
      const c = net.connect(s.port, '127.0.0.1');
      let got = '';
      c.on('connect', () => c.write('GET /events/v1/ping/fifth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      c.on('data', (d) => { got += d; if (!answeredAt) answeredAt = Date.now(); });
      c.on('close', () => resolve(got));
      c.on('error', () => resolve(got));
    });
    await sleep(700);
    t.equal(answeredAt, 0, 'not served while 4 connections are open');
    const closedAt = Date.now();
    open[0].destroy();
    const got = await fifth;
    t.match(got, /^HTTP\/1\.1 200/);
    t.ok(answeredAt - closedAt < limit(1500), 'served as soon as a connection closed (' + (answeredAt - closedAt) + ' ms)');
    open.forEach((c) => c.destroy());
  } finally { await s.stop(); }
});
