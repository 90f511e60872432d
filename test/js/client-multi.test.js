'use strict';
// One long-poll for all the channels of a Client (docs/client.md): 300
// channels on one connection to the daemon, a channel added while the poll
// waits gets its events at once (nothing twice, nothing lost), a channel
// whose last listener left drops out at the next request, and against a
// server without the multi-channel route (a stand-in answering it 404 or
// 405, passing everything else on to the daemon) one long-poll per channel.
const t = require('tap');
const fs = require('node:fs');
const http = require('node:http');
const h = require('../lib/client-harness');

const T = { timeout: h.limit(120000) };
const POLL = 30000; // longer than any wait below: an answer before it is not the timeout's

// ESTABLISHED connections whose local port is `port`: the daemon's ends.
function establishedAt(port) {
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = fs.readFileSync(file, 'utf8'); } catch (_) { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length >= 4 && parseInt(cols[1].split(':').pop(), 16) === port && cols[3] === '01') n++;
    }
  }
  return n;
}

// One request to the daemon on a connection of its own, closed after it
// (so the test's own requests are not counted among the Client's).
function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body ? JSON.stringify(body) : '';
    const req = http.request({
      host: '127.0.0.1', port: stack.server.port, path, method, agent: false,
      headers: { connection: 'close', 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

// Channels waited on at the daemon (its /metrics).
async function waiting() {
  const { text } = await call('GET', '/metrics');
  return Number(/^ganomede_events_longpolls_waiting (\d+)/m.exec(text)[1]);
}

async function publish(channel, type) {
  const r = await call('POST', '/events/v1/events', { secret: stack.server.secret, clientId: 'pub', channel, from: 'tests', type });
  if (r.status !== 200) throw new Error('publish: ' + r.status + ' ' + r.text);
}

// The daemon's connections once the test's own have closed.
async function clientConnections() {
  await h.sleep(100);
  return establishedAt(stack.server.port);
}

async function until(fn, ms, what) {
  const end = Date.now() + h.limit(ms);
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await h.sleep(20);
  }
}

let stack;
t.before(async () => { stack = await h.startStack({ env: { POLL_TIMEOUT: String(POLL) } }); });
t.teardown(async () => { await stack.server.stop(); });

t.test('300 channels are polled over one connection, and their events all come', T, async (t) => {
  await until(async () => await waiting() === 0 && await clientConnections() === 0, 10000, 'an idle daemon');
  const client = new h.Client(h.unique('many'), stack.options());
  t.teardown(() => client.close());
  const channels = Array.from({ length: 300 }, (_, i) => h.unique('many-' + i));
  const got = new Map(channels.map((c) => [c, []]));
  for (const ch of channels) client.on(ch, (e) => got.get(ch).push(e.id));
  await until(async () => await waiting() >= 300, 20000, 'a waiter for each channel');
  t.equal(await clientConnections(), 1, 'one connection to the daemon while every channel waits');
  await publish(channels[150], 'one');
  await until(() => got.get(channels[150]).length === 1, 10000, 'the event of one channel');
  for (const ch of channels) await publish(ch, 'burst');
  await until(() => channels.every((c) => got.get(c).length === (c === channels[150] ? 2 : 1)), 20000, 'a burst on every channel');
  t.same(got.get(channels[150]), [1, 2], 'in id order, each once');
  t.ok(await clientConnections() <= 2, 'at most two connections after the burst');
});

t.test('a channel added while the poll waits gets its events at once; nothing comes twice or is lost', T, async (t) => {
  const client = new h.Client(h.unique('join'), stack.options());
  t.teardown(() => client.close());
  const [a, b] = [h.unique('join-a'), h.unique('join-b')];
  const seenA = [], seenB = [];
  const base = await waiting();
  client.on(a, (e) => seenA.push(e.type));
  await until(async () => await waiting() >= base + 1, 10000, 'the poll of a');
  await publish(a, 'a1');
  await until(() => seenA.length === 1, 10000, 'a1');
  await until(async () => await waiting() >= base + 1, 10000, 'the next poll of a');
  client.on(b, (e) => seenB.push(e.type));
  // The second request (a and b) waits beside the first (a).
  await until(async () => await waiting() >= base + 3, 10000, 'a poll for a and b');
  await publish(a, 'a2');
  await publish(b, 'b1');
  await until(() => seenB.length === 1 && seenA.length === 2, 10000, 'b1 and a2 before the timeout');
  await publish(a, 'a3');
  await until(() => seenA.length === 3, 10000, 'a3');
  await h.sleep(300);
  t.same(seenA, ['a1', 'a2', 'a3'], 'each event of a once, in order');
  t.same(seenB, ['b1']);
  t.ok(await clientConnections() <= 2, 'two connections at most');
});

t.test('a channel whose last listener left drops out at the next request', T, async (t) => {
  const client = new h.Client(h.unique('drop'), stack.options());
  t.teardown(() => client.close());
  const [a, b] = [h.unique('drop-a'), h.unique('drop-b')];
  const base = await waiting();
  const seen = [];
  const onB = () => seen.push('b');
  client.on(a, () => seen.push('a'));
  client.on(b, onB);
  await until(async () => await waiting() >= base + 2, 10000, 'the poll of a and b');
  client.removeListener(b, onB);
  await publish(a, 'x');
  await until(() => seen.length === 1, 10000, 'the event of a');
  const numsub = async (ch) => (await h.redisCommand(h.REDIS_PORT, 'PUBSUB', 'NUMSUB', ch))[1];
  await until(async () => await numsub(b) === 0 && await numsub(a) === 1, 10000, 'a poll for a alone');
  await publish(b, 'x');
  await h.sleep(300);
  t.same(seen, ['a'], 'b\'s events are not delivered');
});

t.test('pollPerChannel: true polls each channel with a long-poll of its own', T, async (t) => {
  t.throws(() => new h.Client('x', stack.options({ pollPerChannel: 'yes' })), TypeError);
  const [base, conns] = [await waiting(), await clientConnections()];
  const client = new h.Client(h.unique('per'), stack.options({ pollPerChannel: true }));
  t.teardown(() => client.close());
  const channels = [h.unique('per-a'), h.unique('per-b'), h.unique('per-c')];
  const got = [];
  for (const ch of channels) client.on(ch, (e, c) => got.push(c));
  await until(async () => await waiting() >= base + 3, 10000, 'a waiter for each channel');
  t.equal(await clientConnections() - conns, 3, 'a connection per channel');
  for (const ch of channels) await publish(ch, 'e');
  await until(() => got.length === 3, 10000, 'the events');
  t.same(got.slice().sort(), channels.slice().sort());
});

// An HTTP server standing in for one without the multi-channel route: it
// answers that route `status` and passes every other request on.
async function standIn(target, status) {
  const seen = { multi: 0, polls: 0 };
  const srv = http.createServer((req, res) => {
    if (req.url.startsWith('/events/v1/events/multi')) {
      seen.multi++;
      req.resume();
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: status === 404 ? 'ResourceNotFound' : 'MethodNotAllowed', message: req.url + ' does not exist' }));
      return;
    }
    if (req.method === 'GET' && req.url.startsWith('/events/v1/events?')) seen.polls++;
    const up = http.request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const sockets = new Set();
  srv.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return {
    port: srv.address().port, seen,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); srv.close(r); }),
  };
}

for (const status of [404, 405]) {
  t.test(`a server answering the multi-channel route ${status} gets one long-poll per channel, asked once`, T, async (t) => {
    const old = await standIn(stack.server.port, status);
    t.teardown(() => old.close());
    const client = new h.Client(h.unique('old'), stack.options({ port: old.port }));
    t.teardown(() => client.close());
    client.on('error', (e) => t.fail('error: ' + e.message));
    const channels = [h.unique('old-a'), h.unique('old-b'), h.unique('old-c')];
    const got = [];
    for (const ch of channels) client.on(ch, (e, c) => got.push(c + ':' + e.type));
    await until(() => old.seen.polls >= 3, 10000, 'a poll per channel');
    for (const ch of channels) await publish(ch, 'e');
    await until(() => got.length === 3, 10000, 'the events');
    const late = h.unique('old-d');
    client.on(late, (e, c) => got.push(c + ':' + e.type));
    await until(() => old.seen.polls >= 7, 10000, 'the late channel\'s poll');
    await publish(late, 'e');
    await until(() => got.length === 4, 10000, 'the late channel\'s event');
    t.same(got.slice().sort(), channels.concat(late).map((c) => c + ':e').sort());
    t.equal(old.seen.multi, 1, 'the route is asked for once');
  });
}
