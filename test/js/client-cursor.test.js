'use strict';
// Cursor, public in index.d.ts: a poll position (channel, after, limit),
// how it moves past events, and the cursors `cycle` hands out: the
// engine's, after a throwing listener, a lost range (X-Events-Lost) and a
// cursor reset (X-Events-Reset). Against the real daemon and Redis.
const t = require('tap');
const { Cursor } = require('../..');
const h = require('../lib/client-harness');
const { limit } = h;

t.test('constructor: channel required, after and limit default to null', { timeout: limit(5000) }, async (t) => {
  const c = new Cursor('users/v1');
  t.equal(c.channel, 'users/v1');
  t.equal(c.after, null);
  t.equal(c.limit, null);
  const d = new Cursor('ch', { after: 7, limit: 50 });
  t.equal(d.after, 7);
  t.equal(d.limit, 50);
  for (const bad of [undefined, null, '', 42, {}]) {
    t.throws(() => new Cursor(bad), /requires channel to be non-empty string/, 'channel ' + JSON.stringify(bad));
  }
});

t.test('toQuery: the GET /events query, without what is null', { timeout: limit(5000) }, async (t) => {
  t.same(new Cursor('ch').toQuery(), { channel: 'ch' });
  t.same(new Cursor('ch', { after: 0 }).toQuery(), { channel: 'ch', after: 0 }, 'after 0 is kept');
  t.same(new Cursor('ch', { after: 3, limit: 10 }).toQuery(), { channel: 'ch', after: 3, limit: 10 });
});

t.test('advance: after = the highest id of the events, a new Cursor', { timeout: limit(5000) }, async (t) => {
  const c = new Cursor('ch', { after: 2, limit: 5 });
  const n = c.advance([{ id: 3 }, { id: 5 }, { id: 4 }]);
  t.not(n, c, 'a new object');
  t.equal(n.after, 5);
  t.equal(n.limit, 5, 'keeps the limit');
  t.equal(n.channel, 'ch');
  t.equal(c.after, 2, 'the original is unchanged');
  t.equal(c.advance([]), c, 'no events: the same cursor');
  t.equal(c.advance(null), c, 'not an array: the same cursor');
  t.equal(c.advance([{}, { id: 'x' }, null]), c, 'no numeric id: the same cursor');
});

// ---- The cursors `cycle` hands out: the engine's (the C client engine's
// cursor per channel), whatever cut a batch short or moved its start.

// Channels named trim-* keep their last 5 events.
let s;
t.before(async () => { s = await h.startStack({ env: { POLL_TIMEOUT: '1000', RETENTION_RULES: 'trim-*=5' } }); });
t.teardown(async () => { await s.server.stop(); });

// What a client emits for one channel, in order: {event}, {error, from,
// to, counter}, {cycle: [finished.after, next.after]}.
function record(client, ch) {
  const log = [];
  client.on('error', (err, c) => { if (c === ch) log.push(signalOf(err)); });
  client.on('cycle', ({ finished, next }, c) => { if (c === ch) log.push({ cycle: [finished.after, next.after] }); });
  return log;
}
const signalOf = (err) => JSON.parse(JSON.stringify({ error: err.code || err.restCode, from: err.from, to: err.to, counter: err.counter }));

async function waitFor(cond, what, ms = 15000) {
  const end = Date.now() + h.limit(ms);
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await h.sleep(10);
  }
}

// Listen on ch (logging each event) until a cycle whose next.after is
// `until`; stop there, from the cycle handler (between two requests, the
// cursor kept), and resolve once the client drained. leaveAt: the listener
// removes itself at that event id instead (mid-batch).
function listen(client, ch, log, until, leaveAt) {
  return new Promise((resolve) => {
    const stop = () => {
      client.removeListener('cycle', cy);
      client.once('drain', resolve);
      client.removeListener(ch, on);
    };
    const on = (e) => { log.push({ event: e.id }); if (e.id === leaveAt) stop(); };
    const cy = ({ next }, c) => { if (c === ch && next.after === until) stop(); };
    client.on('cycle', cy);
    client.on(ch, on);
  });
}

async function publishN(ch, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await h.publish(s, ch, { from: 'f', type: 't' + i }));
  return out;
}

// Events published from now on have a later timestamp than `event`: the
// server tells a new event at a reused id by its timestamp.
async function pastTimestampOf(event) {
  while (Date.now() <= event.timestamp) await h.sleep(1);
}

// Remove events from Redis by hand, as an operator or a restore would:
// deleteEvents the ids `ids` of ch (its counter stays), deleteChannel
// every key of ch, its counter included.
async function deleteEvents(ch, ids) {
  for (const id of ids) {
    await h.redisCommand(h.REDIS_PORT, 'ZREM', ch + ':keys', ch + ':' + id);
    await h.redisCommand(h.REDIS_PORT, 'DEL', ch + ':' + id);
  }
}
const deleteChannel = (ch, last) => h.redisCommand(h.REDIS_PORT, 'DEL', 'indices:' + ch, ch + ':keys',
  ...Array.from({ length: last }, (_, i) => ch + ':' + (i + 1)));

// A consumer in a child process of its own, whose 'uncaughtException'
// handler survives a throwing listener (the test runner's would fail the
// test). It prints what the client emits as JSON lines, as record() logs
// it, plus {caught}; scenario (the body of an async function) drives it
// with listen(throwAt, until): listen until a cycle whose next.after is
// `until`, the listener throwing once at event id throwAt, then stop and
// wait for the drain.
const consumer = (scenario) => `
const { Client } = require(process.env.PKG);
const h = require(process.env.HARNESS);
const out = (o) => console.log(JSON.stringify(o));
process.on('uncaughtException', (err) => out({ caught: err.message }));
const c = new Client(process.env.CID, { secret: process.env.SECRET, hostname: '127.0.0.1', port: Number(process.env.PORT) });
const ch = process.env.CH;
if (!process.env.NO_ERROR_LISTENER) {
  c.on('error', (err) => out(JSON.parse(JSON.stringify({ error: err.code || err.restCode, from: err.from, to: err.to, counter: err.counter }))));
}
c.on('cycle', ({ finished, next }) => out({ cycle: [finished.after, next.after] }));
function listen(throwAt, until) {
  let thrown = false;
  const on = (e) => {
    out({ event: e.id });
    if (e.id === throwAt && !thrown) { thrown = true; throw new Error('listener failed at ' + e.id); }
  };
  return new Promise((resolve) => {
    const cy = ({ next }) => {
      if (next.after !== until) return;
      c.removeListener('cycle', cy);
      c.once('drain', resolve);
      c.removeListener(ch, on);
    };
    c.on('cycle', cy);
    c.on(ch, on);
  });
}
const publish = async (n) => {
  for (let i = 0; i < n; i++) {
    const r = await h.request(process.env.URL, 'POST', '/events/v1/events',
      { secret: process.env.SECRET, clientId: 'publisher', channel: ch, from: 'f', type: 'n' + i });
    if (r.status !== 200) throw new Error('publish ' + r.status);
  }
};
(async () => { ${scenario} c.close(); out({ done: true }); })().catch((err) => { out({ failed: err.message }); process.exit(1); });
`;

async function consume(ch, scenario, env = {}) {
  const r = await h.runNode(consumer(scenario), {
    env: Object.assign({
      PKG: h.PKG, HARNESS: require.resolve('../lib/harness'), CID: h.unique('cid'), CH: ch,
      SECRET: s.server.secret, PORT: String(s.server.port), URL: s.url, GE_TEST_REDIS_PORT: String(h.REDIS_PORT),
    }, env),
    timeout: 30000,
  });
  const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { r, lines };
}

t.test('cycle after a throwing listener: next is past the event it threw on, and the rest comes from there', { timeout: h.limit(60000) }, async (t) => {
  t.test('a listener throwing at event 3 of 5: the cycle of that batch goes on from 3', async (t) => {
    const ch = h.unique('throw');
    await publishN(ch, 5);
    const { r, lines } = await consume(ch, 'await listen(3, 5);');
    t.equal(r.code, 0, r.stderr);
    t.same(lines, [{ event: 1 }, { event: 2 }, { event: 3 }, { caught: 'listener failed at 3' }, { cycle: [null, 3] },
      { event: 4 }, { event: 5 }, { cycle: [3, 5] }, { done: true }],
    'the exception goes on first, then the cycle: next.after 3, where the next request starts');
  });

  t.test('in an answer after X-Events-Lost: next is the event it threw on, past the lost range', async (t) => {
    const ch = h.unique('trim'); // at most 5 events kept
    await publishN(ch, 12);
    const { r, lines } = await consume(ch, 'await listen(8, 12);');
    t.equal(r.code, 0, r.stderr);
    t.same(lines, [{ error: 'EventsLost', from: 1, to: 7 }, { event: 8 }, { caught: 'listener failed at 8' }, { cycle: [null, 8] },
      { event: 9 }, { event: 10 }, { event: 11 }, { event: 12 }, { cycle: [8, 12] }, { done: true }],
    'told once; the cursor goes on from 8, not from before the lost range');
  });

  t.test('in an answer after X-Events-Reset: next is the event it threw on, not the old cursor ahead of the channel', async (t) => {
    const ch = h.unique('reset');
    const sixth = (await publishN(ch, 6))[5];
    // Read 6; then the channel is emptied and refilled (Redis restored
    // without those events): the cursor, 6, is ahead of the new last id, 3.
    const scenario = `await listen(0, 6);
      await h.redisCommand(Number(process.env.GE_TEST_REDIS_PORT), 'DEL', 'indices:' + ch, ch + ':keys',
        ch + ':1', ch + ':2', ch + ':3', ch + ':4', ch + ':5', ch + ':6');
      while (Date.now() <= Number(process.env.SIXTH_TS)) await h.sleep(1);
      await publish(3);
      out({ refilled: true });
      await listen(1, 3);`;
    const { r, lines } = await consume(ch, scenario, { SIXTH_TS: String(sixth.timestamp) });
    t.equal(r.code, 0, r.stderr);
    t.same(lines, [{ event: 1 }, { event: 2 }, { event: 3 }, { event: 4 }, { event: 5 }, { event: 6 }, { cycle: [null, 6] },
      { refilled: true }, { error: 'CursorReset', counter: 3 }, { event: 1 }, { caught: 'listener failed at 1' }, { cycle: [6, 1] },
      { event: 2 }, { event: 3 }, { cycle: [1, 3] }, { done: true }],
    'the cycle of the reset batch goes on from 1, the event handed over, and 2 and 3 follow');
  });

  t.test('a request error with no error listener: the error throws, then its cycle follows', async (t) => {
    const ch = h.unique('noerr');
    const scenario = `await new Promise((resolve) => {
        c.once('cycle', () => { c.removeAllListeners(ch); resolve(); });
        c.on(ch, () => {});
      });`;
    const { r, lines } = await consume(ch, scenario, { NO_ERROR_LISTENER: '1', SECRET: 'not-the-secret' });
    t.equal(r.code, 0, r.stderr);
    t.match(lines[0], { caught: /Invalid/ }, 'the error is thrown first');
    t.same(lines.slice(1), [{ cycle: [null, null] }, { done: true }], 'then the cycle: the cursor stays');
  });
});

t.test('cycle after X-Events-Lost: next is past the lost range and the events handed over', { timeout: h.limit(60000) }, async (t) => {
  t.test('events trimmed by retention: next past the retained events, the loss told once', async (t) => {
    const ch = h.unique('trim');
    await publishN(ch, 12);
    const c = new h.Client(h.unique('cid'), s.options());
    t.teardown(() => c.close());
    const log = record(c, ch);
    await listen(c, ch, log, 12);
    const again = listen(c, ch, log, 13);
    await h.publish(s, ch, { from: 'f', type: 'later' });
    await again;
    t.same(log, [{ error: 'EventsLost', from: 1, to: 7 }, { event: 8 }, { event: 9 }, { event: 10 }, { event: 11 }, { event: 12 },
      { cycle: [null, 12] }, { event: 13 }, { cycle: [12, 13] }]);
  });

  t.test('events deleted from Redis: next past the rest', async (t) => {
    const ch = h.unique('deleted');
    await publishN(ch, 6);
    await deleteEvents(ch, [1, 2, 3, 4]);
    const c = new h.Client(h.unique('cid'), s.options());
    t.teardown(() => c.close());
    const log = record(c, ch);
    await listen(c, ch, log, 6);
    t.same(log, [{ error: 'EventsLost', from: 1, to: 4 }, { event: 5 }, { event: 6 }, { cycle: [null, 6] }]);
  });

  t.test('every event deleted from Redis: an empty answer, next past the lost range, told once', async (t) => {
    const ch = h.unique('alldeleted');
    await publishN(ch, 3);
    await deleteEvents(ch, [1, 2, 3]); // the counter stays at 3
    const c = new h.Client(h.unique('cid'), s.options());
    t.teardown(() => c.close());
    const log = record(c, ch);
    c.on(ch, (e) => log.push({ event: e.id }));
    await waitFor(() => log.filter((e) => e.cycle).length >= 2, 'two cycles');
    c.removeAllListeners(ch);
    t.same(log.slice(0, 3), [{ error: 'EventsLost', from: 1, to: 3 }, { cycle: [null, 3] }, { cycle: [3, 3] }],
      'the timeout\'s [] carries the loss; the next request starts after it and is not told again');
  });

  t.test('the last listener leaving mid-batch: next is the last event handed over; a new listener goes on from there', async (t) => {
    const ch = h.unique('trim');
    await publishN(ch, 12);
    const c = new h.Client(h.unique('cid'), s.options());
    t.teardown(() => c.close());
    const log = record(c, ch);
    await listen(c, ch, log, null, 9);
    t.same(log, [{ error: 'EventsLost', from: 1, to: 7 }, { event: 8 }, { event: 9 }, { cycle: [null, 9] }]);
    log.length = 0;
    await listen(c, ch, log, 12);
    t.same(log, [{ event: 10 }, { event: 11 }, { event: 12 }, { cycle: [9, 12] }], 'not told again');
  });

  t.test('the last listener leaving on the signal: nothing of the answer is consumed, it comes again', async (t) => {
    const ch = h.unique('trim');
    await publishN(ch, 12);
    const c = new h.Client(h.unique('cid'), s.options());
    t.teardown(() => c.close());
    const log = record(c, ch);
    const on = (e) => log.push({ event: e.id });
    const drained = h.once(c, 'drain');
    c.once('error', () => c.removeListener(ch, on));
    c.on(ch, on);
    await drained;
    t.same(log, [{ error: 'EventsLost', from: 1, to: 7 }], 'no event, no cycle: the answer was dropped');
    log.length = 0;
    await listen(c, ch, log, 12);
    t.same(log, [{ error: 'EventsLost', from: 1, to: 7 }, { event: 8 }, { event: 9 }, { event: 10 }, { event: 11 }, { event: 12 },
      { cycle: [null, 12] }], 'listening again: the same answer, its signal included');
  });
});

t.test('cycle after X-Events-Reset: next follows the channel, not the cursor ahead of it', { timeout: h.limit(60000) }, async (t) => {
  t.test('a stored cursor ahead of the channel: the events from id 1, next their last', async (t) => {
    const ch = h.unique('ahead');
    const cid = h.unique('cid');
    await publishN(ch, 3);
    await h.redisCommand(h.REDIS_PORT, 'SET', 'last-fetched:' + cid + ':' + ch, '100');
    const c = new h.Client(cid, s.options());
    t.teardown(() => c.close());
    const log = record(c, ch);
    await listen(c, ch, log, 3);
    t.same(log, [{ error: 'CursorReset', counter: 3 }, { event: 1 }, { event: 2 }, { event: 3 }, { cycle: [null, 3] }]);
  });

  t.test('a stored cursor ahead of an empty channel: next is 0, and no reset again', async (t) => {
    const ch = h.unique('aheadempty');
    const cid = h.unique('cid');
    await h.redisCommand(h.REDIS_PORT, 'SET', 'last-fetched:' + cid + ':' + ch, '100');
    const c = new h.Client(cid, s.options());
    t.teardown(() => c.close());
    const log = record(c, ch);
    c.on(ch, (e) => log.push({ event: e.id }));
    await waitFor(() => log.filter((e) => e.cycle).length >= 2, 'two cycles');
    c.removeAllListeners(ch);
    t.same(log.slice(0, 3), [{ error: 'CursorReset', counter: 0 }, { cycle: [null, 0] }, { cycle: [0, 0] }]);
  });

  // The client read 6 events; then the channel is emptied and refilled
  // with 3 (a restore without the last events): its cursor, 6, is ahead.
  async function readThenRefill(t, ch) {
    const sixth = (await publishN(ch, 6))[5];
    const c = new h.Client(h.unique('cid'), s.options());
    t.teardown(() => c.close());
    const log = record(c, ch);
    await listen(c, ch, log, 6);
    await deleteChannel(ch, 6);
    await pastTimestampOf(sixth);
    await publishN(ch, 3);
    log.length = 0;
    return { c, log };
  }

  t.test('a running client: next is the last of the new events', async (t) => {
    const ch = h.unique('refill');
    const { c, log } = await readThenRefill(t, ch);
    await listen(c, ch, log, 3);
    t.same(log, [{ error: 'CursorReset', counter: 3 }, { event: 1 }, { event: 2 }, { event: 3 }, { cycle: [6, 3] }]);
  });

  t.test('the last listener leaving mid-batch: next is the last event handed over, not the old cursor', async (t) => {
    const ch = h.unique('refill');
    const { c, log } = await readThenRefill(t, ch);
    await listen(c, ch, log, null, 1);
    t.same(log, [{ error: 'CursorReset', counter: 3 }, { event: 1 }, { cycle: [6, 1] }]);
    log.length = 0;
    await listen(c, ch, log, 3);
    t.same(log, [{ event: 2 }, { event: 3 }, { cycle: [1, 3] }], 'a new listener goes on from 1: 2 and 3, no reset again');
  });

  t.test('close() mid-batch: the cycle still comes, next at the last event handed over', async (t) => {
    const ch = h.unique('refill');
    const { c, log } = await readThenRefill(t, ch);
    const cycled = h.once(c, 'cycle');
    c.on(ch, (e) => { log.push({ event: e.id }); if (e.id === 2) c.close(); });
    await cycled;
    t.same(log, [{ error: 'CursorReset', counter: 3 }, { event: 1 }, { event: 2 }, { cycle: [6, 2] }]);
  });
});
