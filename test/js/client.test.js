'use strict';
// The Node client against the real daemon and Redis: every point of docs/client.md and of docs/protocol.md "Cursor and acknowledgement".
const tap = require('tap');
const h = require('../lib/client-harness');
const { Client, Cursor, IndexerClient } = require('../..');

const T = { timeout: h.limit(30000) };
let stack;
const clients = [];
function client(id, extra) {
  const c = new Client(id || h.unique('client'), stack.options(extra));
  clients.push(c);
  return c;
}

tap.before(async () => { stack = await h.startStack(); });
tap.teardown(async () => {
  for (const c of clients) c.close();
  await stack.server.stop();
});

tap.test('exports Client, Cursor, IndexerClient; loading needs no environment', T, async (t) => {
  t.equal(typeof Client, 'function');
  t.equal(typeof Cursor, 'function');
  t.equal(typeof IndexerClient, 'function');
  const r = await h.runNode("const m = require('.'); console.log(Object.keys(m).sort().join(','))", { env: {} });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), 'Client,Cursor,IndexerClient');
});

tap.test('constructor checks its options', T, async (t) => {
  t.throws(() => new Client('id'), /secret/);
  t.throws(() => new Client('id', {}), /secret/);
  t.throws(() => new Client('id', { secret: '' }), /secret/);
  t.throws(() => new Client('id', { secret: 42 }), /secret/);
  t.throws(() => new Client('', { secret: 's' }), /clientId/);
  t.throws(() => new Client('id', { secret: 's', protocol: 'ftp' }), /protocol/);
  t.throws(() => new Client('id', { secret: 's', port: 'abc' }), /port/);
  const c = new Client('id', { secret: 's' });
  t.ok(c instanceof require('node:events').EventEmitter);
  c.close();
});

tap.test('send then listen: handler gets (event, channel), data comes back exactly', T, async (t) => {
  const ch = h.unique();
  const c = client();
  const header = await h.cb2p((cb) => c.send(ch, { from: 'tests', type: 'add', data: { thing: 'abc', stuff: 123, blob: [12, 13, 14], f: 0.1 } }, cb));
  t.equal(header.id, 1);
  t.equal(typeof header.timestamp, 'number');
  const got = h.collect(c, ch, 1);
  const [[event, channel]] = await got;
  t.equal(channel, ch);
  t.strictSame(event, { id: 1, timestamp: header.timestamp, type: 'add', from: 'tests', data: { thing: 'abc', stuff: 123, blob: [12, 13, 14], f: 0.1 } });
});

tap.test('every way of registering a listener starts polling', T, async (t) => {
  for (const method of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener']) {
    const ch = h.unique(method);
    const c = client();
    const p = new Promise((resolve) => c[method](ch, (e, channel) => resolve([e, channel])));
    await h.publish(stack, ch, { from: 'x', type: method });
    const [e, channel] = await p;
    t.equal(e.type, method, method);
    t.equal(channel, ch);
    c.removeAllListeners(ch);
  }
});

tap.test('special names are never polled and never sendable', T, async (t) => {
  const special = ['newListener', 'removeListener', 'error', 'drain', 'cycle'];
  for (const name of special) await h.publish(stack, name, { from: 'x', type: 'trap' });
  const c = client();
  const seen = [];
  for (const name of special) c.on(name, (a) => { if (a && a.type === 'trap') seen.push(name); });
  const ch = h.unique();
  c.on(ch, () => {});
  const got = h.collect(c, ch, 1);
  await h.publish(stack, ch, { from: 'x', type: 'real' });
  await got;
  await h.collect(c, 'cycle', 1); // one more (empty, timed-out) long-poll of the real channel
  t.strictSame(seen, []);
  for (const name of special) {
    const err = await new Promise((resolve) => c.send(name, { from: 'x', type: 'y' }, resolve));
    t.ok(err instanceof TypeError, name);
  }
  c.removeAllListeners();
});

tap.test('send: invalid events call back asynchronously with a TypeError and send nothing', T, async (t) => {
  const ch = h.unique();
  const c = client();
  const bad = [
    {}, { from: 'a' }, { type: 'b' }, { from: '', type: 'b' }, { from: 'a', type: 7 },
    { from: 'a', type: 'b', data: null }, { from: 'a', type: 'b', data: 0 }, { from: 'a', type: 'b', data: 'str' },
    { from: 'a', type: 'b', data: false },
  ];
  for (const ev of bad) {
    let sync = true;
    const err = await new Promise((resolve) => { c.send(ch, ev, resolve); sync = false; });
    t.equal(sync, false);
    t.ok(err instanceof TypeError, JSON.stringify(ev));
  }
  const latest = await h.cb2p((cb) => c.getLatestEvents(ch, 10, cb));
  t.strictSame(latest, []);
});

tap.test('cycle: {finished, next} Cursors; after = highest id seen, acknowledged on the next request', T, async (t) => {
  const ch = h.unique();
  const id = h.unique('cid');
  for (let i = 0; i < 3; i++) await h.publish(stack, ch, { from: 'x', type: 't' + i });
  const c = client(id);
  const events = [];
  c.on(ch, (e) => events.push(e.id));
  const [[first, ch1]] = await h.collect(c, 'cycle', 1);
  t.equal(ch1, ch);
  if (!t.ok(first.finished instanceof Cursor && first.next instanceof Cursor)) return;
  t.equal(first.finished.channel, ch);
  t.equal(first.finished.after, null); // first request omits after
  t.strictSame(events, [1, 2, 3]);
  t.equal(first.next.after, 3);
  // Listen before publishing: the wake-up can reach the client before the
  // publish's own answer does.
  const secondCycle = h.collect(c, 'cycle', 1);
  await h.publish(stack, ch, { from: 'x', type: 't3' });
  const [[second]] = await secondCycle;
  t.equal(second.finished.after, 3);
  t.equal(second.next.after, 4);
  // The first request (no after) acknowledged nothing; the request with
  // after=3 stored 3, the one with after=4 (in flight now) stores 4.
  const key = 'last-fetched:' + id + ':' + ch;
  const deadline = Date.now() + 5000;
  let acked;
  while ((acked = await h.redisCommand(h.REDIS_PORT, 'GET', key)) !== '4' && Date.now() < deadline) await h.sleep(10);
  t.equal(acked, '4');
  c.removeAllListeners(ch);
});

tap.test('a restarted client with the same clientId gets only what it had not acknowledged', T, async (t) => {
  const ch = h.unique();
  const id = h.unique('cid');
  const a = client(id);
  const seenA = [];
  a.on(ch, (e) => seenA.push(e.id));
  await h.collect(a, 'cycle', 1); // first (empty) long-poll done; next one carries no events yet
  for (let i = 0; i < 2; i++) await h.publish(stack, ch, { from: 'x', type: 'a' });
  while (seenA.length < 2) await h.collect(a, 'cycle', 1);
  // Ack of 2 happens with the next request: wait for it to be in flight.
  await h.sleep(100);
  a.removeAllListeners(ch);
  a.close();
  for (let i = 0; i < 2; i++) await h.publish(stack, ch, { from: 'x', type: 'b' });
  const b = client(id);
  const cycles = [];
  b.on('cycle', ({ finished }) => cycles.push(finished.after));
  const got = await h.collect(b, ch, 2);
  t.strictSame(got.map(([e]) => e.id), [3, 4]);
  t.strictSame(cycles, [null]); // its first request omitted `after`
  b.removeAllListeners();
});

tap.test('after the last listener goes, the request in flight finishes, its events are dropped, then drain', T, async (t) => {
  const ch = h.unique();
  const id = h.unique('cid');
  const c = client(id);
  const seen = [];
  const handler = (e) => seen.push(e.id);
  c.on(ch, handler);
  await h.collect(c, 'cycle', 1); // a long-poll is now in flight
  const drained = h.once(c, 'drain');
  c.removeListener(ch, handler);
  await h.publish(stack, ch, { from: 'x', type: 'late' }); // ends the in-flight long-poll
  await drained;
  await h.sleep(200);
  t.strictSame(seen, []);
  // Dropped events were not acknowledged: listening again on this client gets them.
  const got = await h.collect(c, ch, 1);
  t.equal(got[0][0].id, 1);
  c.removeAllListeners(ch);
});

tap.test('two listeners on one channel: one request stream, each event once per listener', T, async (t) => {
  const ch = h.unique();
  const c = client();
  const a = [], b = [];
  c.on(ch, (e) => a.push(e.id));
  c.on(ch, (e) => b.push(e.id));
  for (let i = 0; i < 5; i++) await h.publish(stack, ch, { from: 'x', type: 'y' });
  while (a.length < 5) await h.collect(c, 'cycle', 1);
  await h.sleep(100);
  t.strictSame(a, [1, 2, 3, 4, 5]);
  t.strictSame(b, [1, 2, 3, 4, 5]);
  c.removeAllListeners(ch);
});

tap.test('HTTP errors reach "error" as (error, channel) with statusCode, restCode, body; then cycle', T, async (t) => {
  const ch = h.unique();
  const c = client(undefined, { secret: 'wrong-secret' });
  const errs = [];
  c.on('error', (err, channel) => errs.push([err, channel]));
  c.on(ch, () => {});
  const [[cy, cych]] = await h.collect(c, 'cycle', 1);
  c.removeAllListeners(ch);
  if (!t.equal(errs.length, 1)) return;
  const [err, channel] = errs[0];
  t.ok(err instanceof Error);
  t.equal(channel, ch);
  t.equal(err.statusCode, 401);
  t.equal(err.restCode, 'InvalidCredentialsError');
  if (!t.equal(typeof err.body, 'object')) return;
  t.equal(err.body.code, 'InvalidCredentialsError');
  t.equal(cych, ch);
  t.equal(cy.finished.after, cy.next.after);
  const sendErr = await new Promise((resolve) => c.send(ch, { from: 'a', type: 'b' }, resolve));
  t.equal(sendErr.statusCode, 401);
  t.equal(sendErr.restCode, 'InvalidCredentialsError');
});

tap.test('getLatestEvents: last `limit` events, oldest first, default 100', T, async (t) => {
  const ch = h.unique();
  const c = client();
  for (let i = 0; i < 5; i++) await h.publish(stack, ch, { from: 'x', type: 't' + i });
  const two = await h.cb2p((cb) => c.getLatestEvents(ch, 2, cb));
  t.strictSame(two.map((e) => e.id), [4, 5]);
  const all = await h.cb2p((cb) => c.getLatestEvents(ch, cb));
  t.strictSame(all.map((e) => e.id), [1, 2, 3, 4, 5]);
});

tap.test('IndexerClient: createIndex then getIndexEvents', T, async (t) => {
  const ch = h.unique();
  const idx = h.unique('idx');
  const ic = new IndexerClient({ secret: stack.server.secret, hostname: '127.0.0.1', port: stack.server.port, pathnamePrefix: '/events/v1' });
  t.equal(await h.cb2p((cb) => ic.createIndex(idx, ch, 'data.user', cb)), 'OK');
  t.equal(await h.cb2p((cb) => ic.createIndex(idx, ch, 'data.user', cb)), null);
  await h.publish(stack, ch, { from: 'x', type: 'a', data: { user: 'bob/1' } });
  await h.publish(stack, ch, { from: 'x', type: 'b', data: { user: 'alice' } });
  await h.publish(stack, ch, { from: 'x', type: 'c', data: { user: 'bob/1' } });
  const r = await h.cb2p((cb) => ic.getIndexEvents(idx, 'bob/1', cb));
  t.equal(r.id, idx);
  t.equal(r.field, 'data.user');
  t.equal(r.value, 'bob/1');
  t.strictSame(r.rows.map((e) => e.type), ['c', 'a']);
  const missing = await new Promise((resolve) => ic.getIndexEvents(h.unique('nope'), 'v', resolve));
  t.equal(missing.statusCode, 404);
  t.equal(missing.restCode, 'ResourceNotFound');
});

tap.test('the 1.5 prefix form of pathname works too', T, async (t) => {
  const ch = h.unique();
  const c = client(undefined, { pathname: '/events/v1' });
  const header = await h.cb2p((cb) => c.send(ch, { from: 'x', type: 'y' }, cb));
  t.equal(header.id, 1);
  const got = await h.collect(c, ch, 1);
  t.equal(got[0][0].type, 'y');
  c.removeAllListeners(ch);
});
