'use strict';
// The event stream (GET /events/v1/stream, Server-Sent Events,
// docs/protocol.md): events as they are published on many channels, each
// naming its channel, with an id the stream resumes from (Last-Event-ID
// header or lastEventId query), the clientId's stored cursors without one
// (stored when a stream starts from an id, never while it streams), the
// lost and reset signals as events, heartbeats, Authorization: Bearer on
// every route, 400 before the stream starts, curl -N, a slow reader kept
// to a bounded memory, a client leaving or a graceful stop ending the
// stream, HTTP/1.0, and a browser's EventSource (headless Chromium). A
// stream without a clientId (a watcher) stores nothing.
const tap = require('tap');
const http = require('node:http');
const net = require('node:net');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { startServer, request, unique, sleep, limit, redisCommand, REDIS_PORT } = require('../lib/harness');
const { need, missing } = require('../lib/procs');
const { launchChromium, newTab } = require('../lib/browser');

const T = { timeout: limit(60000) };
const BEAT = 300;
const STREAM = '/events/v1/stream';

let srv;
tap.before(async () => {
  srv = await startServer({ env: { STREAM_HEARTBEAT_MS: String(BEAT), STREAM_RETRY_MS: '500', RETENTION_RULES: 'short-*=2' } });
});
tap.teardown(async () => { if (srv) await srv.stop(); });

const publish = (s, channel, data) => request(s.url, 'POST', '/events/v1/events',
  { secret: s.secret, clientId: 'pub', channel, from: 'tests', type: 'T', data });
const qs = (q, channels) => {
  const u = new URLSearchParams(q);
  for (const c of channels) u.append('channel', c);
  return u.toString();
};

// The Server-Sent Events of a text: [{event, id, data, comment}].
function parseSse(text) {
  const out = [];
  for (const block of text.split('\n\n').slice(0, -1)) {
    const e = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) { e.comment = true; continue; }
      const i = line.indexOf(':');
      const k = i < 0 ? line : line.slice(0, i);
      const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (k === 'data') e.data = e.data === undefined ? v : e.data + '\n' + v;
      else e[k] = v;
    }
    out.push(e);
  }
  return out;
}

// A stream read with Node's http: .events (data parsed), .comments, .id
// (the last id seen), waitFor(n events), close().
function open(s, query, headers = {}) {
  return new Promise((resolve, reject) => {
    const st = { text: '', events: [], comments: 0, retry: null, id: null, ended: false, waiters: [] };
    const req = http.get(s.url + STREAM + '?' + query, { headers }, (res) => {
      st.status = res.statusCode;
      st.headers = res.headers;
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (d) => {
        st.text += d;
        buf += d;
        const end = buf.lastIndexOf('\n\n');
        if (end < 0) return;
        for (const e of parseSse(buf.slice(0, end + 2))) {
          if (e.id !== undefined) st.id = e.id;
          if (e.retry !== undefined) st.retry = Number(e.retry);
          if (e.comment && e.data === undefined) st.comments++;
          if (e.data !== undefined) st.events.push({ event: e.event || 'message', id: e.id, json: JSON.parse(e.data) });
        }
        buf = buf.slice(end + 2);
        for (const w of st.waiters.slice()) w();
      });
      res.on('end', () => { st.ended = true; for (const w of st.waiters.slice()) w(); });
      res.on('error', () => {});
      resolve(st);
    });
    req.on('error', reject);
    st.req = req;
    st.until = (pred, what, ms = 10000) => new Promise((ok, fail) => {
      const check = () => {
        if (pred()) { st.waiters = st.waiters.filter((w) => w !== check); clearTimeout(timer); ok(st); }
      };
      const timer = setTimeout(() => { st.waiters = st.waiters.filter((w) => w !== check); fail(new Error('timed out waiting for ' + what + ': ' + st.text.slice(-2000))); }, limit(ms));
      st.waiters.push(check);
      check();
    });
    st.waitFor = (n) => st.until(() => st.events.length >= n, n + ' events');
    st.close = () => req.destroy();
  });
}

const ids = (st, channel) => st.events.filter((e) => e.event === 'message' && (!channel || e.json.channel === channel)).map((e) => e.json.id);
const metric = async (s, name) => {
  const r = await request(s.url, 'GET', '/events/v1/metrics');
  const m = r.body.match(new RegExp('^' + name + ' (\\d+)', 'm'));
  return m ? Number(m[1]) : null;
};

tap.test('events arrive as they are published, on many channels, each naming its channel, with a resumable id', T, async (t) => {
  const chans = Array.from({ length: 50 }, () => unique());
  const st = await open(srv, qs({ secret: srv.secret, clientId: unique(), lastEventId: chans.map(() => '0').join('.') }, chans));
  t.equal(st.status, 200);
  t.match(st.headers['content-type'], /^text\/event-stream/);
  t.equal(st.headers['cache-control'], 'no-cache');
  await st.until(() => st.retry !== null, 'the retry hint');
  t.equal(st.retry, 500, 'retry: the configured hint');
  for (let i = 0; i < chans.length; i++) await publish(srv, chans[i], { n: i });
  await publish(srv, chans[7], { n: 'again' });
  await st.waitFor(51);
  for (let i = 0; i < chans.length; i++) {
    const own = st.events.filter((e) => e.json.channel === chans[i]);
    t.same(own.map((e) => e.json.id), i === 7 ? [1, 2] : [1], 'channel ' + i + ' in id order');
  }
  const last = st.events[50];
  t.same(Object.keys(last.json), ['channel', 'id', 'timestamp', 'type', 'from', 'data'], 'the event JSON with its channel first');
  t.same(last.json.data, { n: 'again' });
  const cursors = st.id.split('.');
  t.equal(cursors.length, 50, 'one cursor per channel');
  t.same(cursors.map(Number), chans.map((_, i) => (i === 7 ? 2 : 1)), 'each channel\'s last id sent, in the stream\'s order');
  t.equal(await metric(srv, 'ganomede_events_streams_open'), 1, 'the open-streams gauge');
  st.close();
  await sleep(200);
  t.equal(await metric(srv, 'ganomede_events_streams_open'), 0, 'a client going away ends its stream');
  t.ok(await metric(srv, 'ganomede_events_stream_events_sent_total') >= 51, 'events sent are counted');
});

tap.test('Last-Event-ID resumes with exactly the missed events: as a header, and as the lastEventId query', T, async (t) => {
  const [a, b] = [unique(), unique()];
  const client = unique();
  const first = await open(srv, qs({ secret: srv.secret, clientId: client, lastEventId: '0.0' }, [a, b]));
  await publish(srv, a); await publish(srv, b); await publish(srv, a);
  await first.waitFor(3);
  const id = first.id;
  t.equal(id, '2.1');
  first.close();
  await publish(srv, b); await publish(srv, a); await publish(srv, b);
  const byHeader = await open(srv, qs({ secret: srv.secret, clientId: client, lastEventId: '0.0' }, [a, b]), { 'Last-Event-ID': id });
  await byHeader.waitFor(3);
  await sleep(300);
  t.equal(byHeader.events.length, 3, 'three events, no more');
  t.same(ids(byHeader, a), [3], 'channel a: what came after its cursor, the header winning over the query');
  t.same(ids(byHeader, b), [2, 3], 'channel b: the same');
  t.equal(byHeader.id, '3.3');
  byHeader.close();
  const byQuery = await open(srv, qs({ secret: srv.secret, clientId: unique(), lastEventId: '2.' }, [a, b]), { 'Last-Event-ID': '' });
  await byQuery.waitFor(4);
  await sleep(300);
  t.same(ids(byQuery, a), [3], 'a cursor of the query (an empty header is none)');
  t.same(ids(byQuery, b), [1, 2, 3], 'an empty cursor: the stored one (none for a new client: from the start)');
  byQuery.close();
});

tap.test('cursors are stored when a stream starts from an id, never while it streams', T, async (t) => {
  const ch = unique();
  const client = unique();
  for (let i = 0; i < 3; i++) await publish(srv, ch);
  const q = qs({ secret: srv.secret, clientId: client }, [ch]);
  const s1 = await open(srv, q);
  await s1.waitFor(3);
  t.same(ids(s1), [1, 2, 3], 'without an id: from the stored cursor (none yet)');
  s1.close();
  const s2 = await open(srv, q);
  await s2.waitFor(3);
  t.same(ids(s2), [1, 2, 3], 'what a stream sent is not stored: a consumer that crashed gets it again');
  s2.close();
  const s3 = await open(srv, q, { 'Last-Event-ID': '2' });
  await s3.waitFor(1);
  t.same(ids(s3), [3]);
  s3.close();
  const poll = await request(srv.url, 'GET', '/events/v1/events?' + new URLSearchParams({ secret: srv.secret, clientId: client, channel: ch }));
  t.same(poll.json.map((e) => e.id), [3], 'the id a stream started from is the clientId\'s cursor, for the long-poll too');
  const s4 = await open(srv, q);
  await s4.waitFor(1);
  await sleep(300);
  t.same(ids(s4), [3], 'and for the next stream without an id');
  s4.close();
});

tap.test('lost events and a cursor reset come as events of their own', T, async (t) => {
  const short = 'short-' + unique();
  for (let i = 0; i < 5; i++) await publish(srv, short);
  const reset = unique();
  await publish(srv, reset); await publish(srv, reset);
  const st = await open(srv, qs({ secret: srv.secret, clientId: unique(), lastEventId: '1.9' }, [short, reset]));
  await st.until(() => st.events.some((e) => e.event === 'lost') && st.events.some((e) => e.event === 'reset'), 'the signals');
  const lost = st.events.find((e) => e.event === 'lost');
  t.same(lost.json, { channel: short, from: 2, to: 3 }, 'event: lost, with the channel and the range');
  t.ok(lost.id, 'with an id');
  const rs = st.events.find((e) => e.event === 'reset');
  t.same(rs.json, { channel: reset, lastId: 2 }, 'event: reset, with the channel\'s last id');
  await st.until(() => ids(st, short).length === 2 && ids(st, reset).length === 2, 'the events');
  t.same(ids(st, short), [4, 5], 'the retained events follow the signal');
  t.same(ids(st, reset), [1, 2], 'a reset cursor reads from the start');
  st.close();
});

tap.test('heartbeat comments while nothing is published', T, async (t) => {
  const st = await open(srv, qs({ secret: srv.secret, clientId: unique() }, [unique()]));
  await st.until(() => st.comments >= 2, 'two heartbeats');
  t.equal(st.events.length, 0);
  t.pass('a comment every ' + BEAT + ' ms');
  st.close();
});

tap.test('Authorization: Bearer is the secret on every route; a wrong one is 401', T, async (t) => {
  const ch = unique();
  const auth = { Authorization: 'Bearer ' + srv.secret };
  const pub = await request(srv.url, 'POST', '/events/v1/events', { clientId: 'p', channel: ch, from: 'f', type: 'T' }, auth);
  t.equal(pub.status, 200, 'publish');
  const get = await request(srv.url, 'GET', '/events/v1/events?' + new URLSearchParams({ clientId: 'c', channel: ch, after: 0 }), undefined, auth);
  t.equal(get.status, 200, 'read');
  t.same(get.json.map((e) => e.id), [1]);
  const latest = await request(srv.url, 'GET', '/events/v1/latest?channel=' + ch, undefined, auth);
  t.equal(latest.status, 200, 'latest');
  const multi = await request(srv.url, 'POST', '/events/v1/events/multi', { clientId: 'c', channels: [{ channel: ch, after: 0 }] }, auth);
  t.equal(multi.status, 200, 'multi');
  const st = await open(srv, qs({ clientId: unique(), lastEventId: '0' }, [ch]), auth);
  t.equal(st.status, 200, 'stream');
  await st.waitFor(1);
  st.close();
  const wrong = { Authorization: 'Bearer not-it' };
  const bad = await request(srv.url, 'GET', '/events/v1/events?' + new URLSearchParams({ secret: srv.secret, clientId: 'c', channel: ch }), undefined, wrong);
  t.equal(bad.status, 401, 'a wrong bearer is refused, even with the right secret in the query');
  const badStream = await request(srv.url, 'GET', STREAM + '?' + qs({ clientId: 'c' }, [ch]), undefined, wrong);
  t.equal(badStream.status, 401);
  t.equal(badStream.json.code, 'InvalidCredentialsError');
  const other = await open(srv, qs({ secret: srv.secret, clientId: 'c', lastEventId: '1' }, [ch]), { Authorization: 'Basic eDp5' });
  t.equal(other.status, 200, 'another scheme is not the secret: the query\'s counts');
  other.close();
  t.notOk(srv.stdout.includes(srv.secret) || srv.stderr.includes(srv.secret), 'the secret is never logged');
});

tap.test('a stream without a clientId starts from now or its Last-Event-ID, and stores no cursor and no consumer', T, async (t) => {
  const [a, b] = [unique(), unique()];
  await publish(srv, a, { n: 1 }); await publish(srv, a, { n: 2 });
  const st = await open(srv, qs({}, [a, b]), { Authorization: 'Bearer ' + srv.secret });
  t.equal(st.status, 200);
  await st.until(() => st.id === '2.0', 'the id: line of where it starts');
  t.same(st.events, [], 'what was published before it started is not sent');
  await publish(srv, a, { n: 3 }); await publish(srv, b, { n: 1 });
  await st.waitFor(2);
  t.same(st.events.map((e) => [e.json.channel, e.json.id]), [[a, 3], [b, 1]], 'what is published after it started is');
  t.equal(st.id, '3.1');
  st.close();
  await publish(srv, a, { n: 4 });
  const again = await open(srv, qs({}, [a, b]), { Authorization: 'Bearer ' + srv.secret, 'Last-Event-ID': '3.1' });
  await again.waitFor(1);
  t.same(again.events.map((e) => [e.json.channel, e.json.id]), [[a, 4]], 'resumed from its Last-Event-ID: the missed event');
  again.close();
  const query = await open(srv, qs({ secret: srv.secret, lastEventId: '2.' }, [a, b]));
  await query.until(() => query.events.length >= 2 && query.id === '4.1', 'the lastEventId query, and now for the channel without a cursor');
  t.same(query.events.map((e) => [e.json.channel, e.json.id]), [[a, 3], [a, 4]]);
  query.close();
  for (const ch of [a, b]) {
    t.equal(await redisCommand(REDIS_PORT, 'EXISTS', ch + ':consumers'), 0, 'no entry in the consumers\' registry of ' + ch);
    const [, cursors] = await redisCommand(REDIS_PORT, 'SCAN', '0', 'MATCH', 'last-fetched:*:' + ch, 'COUNT', '100000');
    t.same(cursors, [], 'no cursor stored for ' + ch);
  }
  const consumers = await request(srv.url, 'GET', '/events/v1/consumers?' + qs({ secret: srv.secret, channel: a }, []));
  t.same(consumers.json.consumers, [], '/consumers lists nobody');
});

tap.test('bad input is a 400 with a message, before any stream starts', T, async (t) => {
  const ch = unique();
  const cases = [
    [{ clientId: 'c' }, [], /at least one channel/],
    [{ clientId: '' }, [ch], /Invalid Client ID/],
    [{ clientId: 'c' }, [ch, ch], /Channel given twice/],
    [{ clientId: 'c' }, ['last-fetched:x'], /reserved|Invalid|channel/i],
    [{ clientId: 'c', lastEventId: '1.2' }, [ch], /Invalid Last-Event-ID: expected 1 cursors/],
    [{ clientId: 'c', lastEventId: 'x' }, [ch], /Invalid Last-Event-ID/],
    [{ clientId: 'c', lastEventId: '-1' }, [ch], /Invalid Last-Event-ID/],
    [{ clientId: 'c', lastEventId: '9007199254740992' }, [ch], /Invalid Last-Event-ID/],
    [{ clientId: 'c' }, Array.from({ length: 1001 }, (_, i) => 'c' + i), /Too many channels \(at most 1000/],
  ];
  for (const [q, chans, msg] of cases) {
    const r = await request(srv.url, 'GET', STREAM + '?' + qs(Object.assign({ secret: srv.secret }, q), chans));
    t.equal(r.status, 400, JSON.stringify(q) + ' ' + chans.length);
    t.match(r.headers.get('content-type'), /application\/json/);
    t.match(r.json.message, msg);
  }
  const hdr = await request(srv.url, 'GET', STREAM + '?' + qs({ secret: srv.secret, clientId: 'c' }, [ch]), undefined, { 'Last-Event-ID': '1.1' });
  t.equal(hdr.status, 400, 'a bad Last-Event-ID header too');
  const post = await request(srv.url, 'POST', STREAM, { secret: srv.secret });
  t.equal(post.status, 405, 'GET only');
});

tap.test('curl -N shows the events as they come', T, async (t) => {
  need('curl');
  const ch = unique();
  const curl = spawn('curl', ['-sN', '-H', 'Authorization: Bearer ' + srv.secret, srv.url + STREAM + '?' + qs({ clientId: unique(), lastEventId: '0' }, [ch])]);
  let out = '';
  curl.stdout.on('data', (d) => { out += d; });
  t.teardown(() => curl.kill());
  const until = async (re) => { for (let i = 0; i < 200 && !re.test(out); i++) await sleep(50); };
  await until(/retry: 500/);
  await publish(srv, ch, { hello: 'curl' });
  await until(/"hello":"curl"/);
  t.match(out, /id: 1\ndata: \{"channel":"[^"]+","id":1,.*"data":\{"hello":"curl"\}\}\n\n/);
});

tap.test('a stream to an HTTP/1.0 client ends with the connection, not chunked', T, async (t) => {
  const ch = unique();
  await publish(srv, ch);
  const sock = net.connect(srv.port, '127.0.0.1');
  let out = '';
  sock.on('data', (d) => { out += d; });
  sock.write('GET ' + STREAM + '?' + qs({ secret: srv.secret, clientId: unique(), lastEventId: '0' }, [ch]) + ' HTTP/1.0\r\n\r\n');
  for (let i = 0; i < 200 && !/"id":1/.test(out); i++) await sleep(50);
  t.match(out, /^HTTP\/1\.0 200 OK\r\n/);
  t.notMatch(out, /Transfer-Encoding|Content-Length/i);
  t.match(out, /\r\n\r\nretry: 500\n\nid: 1\ndata: /, 'the events as they are, no chunk framing');
  sock.destroy();
});

tap.test('a stream whose Redis subscription is lost subscribes again and misses nothing published meanwhile', T, async (t) => {
  const [a, b] = [unique(), unique()];
  const st = await open(srv, qs({ secret: srv.secret, clientId: unique(), lastEventId: '0.0' }, [a, b]));
  await publish(srv, a);
  await st.waitFor(1);
  await redisCommand(REDIS_PORT, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
  await publish(srv, a); // while the subscriptions are gone
  await publish(srv, b);
  await st.until(() => ids(st, a).length === 2 && ids(st, b).length === 1, 'the events published while it was away');
  for (let i = 0; i < 100; i++) { if ((await request(srv.url, 'GET', '/health')).status === 200) break; await sleep(50); }
  await sleep(300);
  await publish(srv, b); // woken by its new subscription
  await st.until(() => ids(st, b).length === 2, 'an event published after');
  t.same(ids(st, a), [1, 2], 'each once, in order');
  t.same(ids(st, b), [1, 2]);
  t.notOk(st.ended, 'the same stream');
  st.close();
});

tap.test('a slow reader: the daemon stops reading its events past a cap, then goes on', T, async (t) => {
  // (ASan's quarantine would hold every freed request buffer: RSS would measure it, not the stream.)
  const s = await startServer({ env: { STREAM_MAX_PENDING_BYTES: '65536', STREAM_HEARTBEAT_MS: '100000', ASAN_OPTIONS: 'quarantine_size_mb=0' } });
  t.teardown(() => s.stop());
  const rss = () => Number(fs.readFileSync('/proc/' + s.proc.pid + '/status', 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;
  const ch = unique();
  const sock = net.connect(s.port, '127.0.0.1');
  sock.pause(); // reads nothing
  await new Promise((r) => sock.once('connect', r));
  sock.setNoDelay(true);
  sock.write('GET ' + STREAM + '?' + qs({ secret: s.secret, clientId: unique(), lastEventId: '0' }, [ch]) + ' HTTP/1.1\r\nHost: x\r\n\r\n');
  await sleep(200);
  const before = rss();
  const big = 'x'.repeat(100000);
  const N = 300; // 30 MB, more than the kernel's socket buffers hold
  for (let i = 0; i < N; i++) await publish(s, ch, { i, big });
  await sleep(300);
  const grown = rss() - before;
  t.comment('daemon RSS grew by ' + Math.round(grown / 1024) + ' KiB while 30 MB waited for a reader');
  t.ok(grown < 12 * 1024 * 1024, 'bounded: far less than what was published');
  let text = '';
  sock.setEncoding('utf8');
  sock.on('data', (d) => { text += d; });
  sock.resume();
  const seen = () => (text.match(/"i":\d+/g) || []).map((m) => Number(m.slice(4)));
  for (let i = 0; i < 400 && seen().length < N; i++) await sleep(50);
  t.same(seen(), Array.from({ length: N }, (_, i) => i), 'then every event, in order');
  sock.destroy();
});

tap.test('a graceful stop ends the streams, and the daemon exits', T, async (t) => {
  const s = await startServer({});
  const st = await open(s, qs({ secret: s.secret, clientId: unique() }, [unique(), unique()]));
  await st.until(() => st.retry !== null, 'the stream');
  const e = await s.stop('SIGTERM');
  await st.until(() => st.ended, 'the end of the stream');
  t.ok(st.ended, 'the stream ended');
  t.equal(e.code, 0, 'the daemon exited 0');
});

tap.test('a browser\'s EventSource receives events and resumes after the daemon restarts', T, async (t) => {
  const why = missing('chromium');
  if (why) { t.fail(why); return; }
  const ch = unique();
  const page = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>stream</title><script>window.got = [];</script>');
  });
  await new Promise((r) => page.listen(0, '127.0.0.1', r));
  t.teardown(() => page.close());
  const origin = 'http://127.0.0.1:' + page.address().port;
  const env = { CORS_ALLOW_ORIGIN: origin, STREAM_RETRY_MS: '200' };
  let s = await startServer({ env });
  const port = s.port;
  t.teardown(async () => { if (s) await s.stop(); });
  const pre = await request(s.url, 'OPTIONS', STREAM, undefined, { Origin: origin, 'Access-Control-Request-Headers': 'last-event-id' });
  t.equal(pre.status, 204, 'with CORS_ALLOW_ORIGIN a preflight is answered');
  t.equal(pre.headers.get('access-control-allow-origin'), origin);
  t.match(pre.headers.get('access-control-allow-headers'), /Last-Event-ID/);
  t.equal(pre.headers.get('access-control-allow-methods'), 'GET');
  const plain = await request(srv.url, 'OPTIONS', STREAM, undefined, { Origin: origin });
  t.equal(plain.status, 405, 'without it OPTIONS is refused, as before');
  t.equal(plain.headers.get('access-control-allow-origin'), null, 'and no answer carries the header');
  const browser = await launchChromium(t);
  t.ok(browser, 'chromium started');
  const tab = await newTab(browser);
  await tab.goto(origin + '/');
  const url = s.url + STREAM + '?' + qs({ secret: s.secret, clientId: unique(), lastEventId: '0' }, [ch]);
  await tab.evaluate((u) => {
    const es = new EventSource(u);
    es.onmessage = (m) => window.got.push({ id: m.lastEventId, data: JSON.parse(m.data) });
  }, url);
  await publish(s, ch, { n: 1 });
  await tab.waitForFunction(() => window.got.length >= 1, null, { timeout: limit(10000) });
  let got = await tab.evaluate(() => window.got);
  t.same(got.map((g) => [g.id, g.data.channel, g.data.data.n]), [['1', ch, 1]], 'an event published from outside');
  await s.stop();
  s = await startServer({ env, port });
  await publish(s, ch, { n: 2 });
  await tab.waitForFunction(() => window.got.length >= 2, null, { timeout: limit(20000) });
  await sleep(300);
  got = await tab.evaluate(() => window.got);
  t.same(got.map((g) => g.data.data.n), [1, 2], 'after the restart it resumed from its Last-Event-ID: the new event once, no repeat');
});
