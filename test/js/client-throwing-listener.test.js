'use strict';
// A listener that throws must not lose events: in a process that survives
// the exception ('uncaughtException'), a listener throwing at event 3 of a
// batch of 5 leaves 4 and 5 for the next poll, and the acknowledgement
// stored by the server (last-fetched) never passes 3 before they arrive.
const t = require('tap');
const h = require('../lib/client-harness');

let stack;
t.before(async () => { stack = await h.startStack(); });
t.teardown(async () => { await stack.server.stop(); });

// The consumer runs in a child process of its own: an uncaughtException
// handler there is the user's, not the test runner's.
const consumer = `
const { Client } = require(process.env.PKG);
const c = new Client(process.env.CID, { secret: process.env.SECRET, hostname: '127.0.0.1', port: Number(process.env.PORT) });
const seen = [];
let thrown = 0;
process.on('uncaughtException', (err) => { thrown++; console.log('caught ' + err.message); });
c.on(process.env.CH, (e) => {
  seen.push(e.id);
  console.log('event ' + e.id);
  if (e.id === 3 && thrown === 0) throw new Error('listener failed at 3');
  if (seen.length === 5) { c.close(); console.log('done ' + seen.join(',')); }
});
`;

t.test('a listener throwing at event 3 of 5: 4 and 5 come with the next poll, the ack never passes 3 before', { timeout: h.limit(30000) }, async (t) => {
  const ch = h.unique('throw');
  const cid = h.unique('cid');
  for (let i = 0; i < 5; i++) await h.publish(stack, ch, { from: 'x', type: 't' + i });
  const r = await h.runNode(consumer, {
    env: { PKG: h.PKG, CID: cid, CH: ch, SECRET: stack.server.secret, PORT: String(stack.server.port) },
    timeout: 20000,
  });
  t.equal(r.code, 0, 'the consumer exits by itself: ' + r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.same(lines, ['event 1', 'event 2', 'event 3', 'caught listener failed at 3', 'event 4', 'event 5', 'done 1,2,3,4,5'],
    'every event is delivered once, 4 and 5 after the exception');
  // The request after the throwing batch carried after=3 (not 5), and the
  // consumer closed before acknowledging 5: the server holds 3.
  const stored = await h.redisCommand(h.REDIS_PORT, 'GET', 'last-fetched:' + cid + ':' + ch);
  t.equal(stored, '3', 'the server acknowledged 3, the last event handed over before the exception');
});

t.test('a listener removed mid-batch: the undelivered rest is not acknowledged', { timeout: h.limit(30000) }, async (t) => {
  const ch = h.unique('rm');
  const cid = h.unique('cid');
  for (let i = 0; i < 4; i++) await h.publish(stack, ch, { from: 'x', type: 't' + i });
  const a = new h.Client(cid, stack.options());
  a.on('error', () => {});
  const first = [];
  const onEvent = (e) => { first.push(e.id); if (e.id === 2) a.removeListener(ch, onEvent); };
  const drained = h.once(a, 'drain');
  a.on(ch, onEvent);
  await drained;
  t.same(first, [1, 2], 'the listener got 1 and 2, then left');
  // The same client listens again: it resumes after 2, not after 4.
  const again = await h.collect(a, ch, 2);
  t.same(again.map(([e]) => e.id), [3, 4], '3 and 4 come again');
  a.close();
});

t.test('listener bookkeeping: removeAllListeners() then a new listener polls again', { timeout: h.limit(30000) }, async (t) => {
  const c = new h.Client(h.unique('cid'), stack.options());
  c.on('error', () => {});
  const ch1 = h.unique('a');
  c.on(ch1, () => {});
  await h.collect(c, 'cycle', 1); // a long-poll of ch1 is in flight
  c.removeAllListeners(); // every listener, 'drain' and 'error' ones included
  c.on('error', () => {});
  await h.once(c, 'drain'); // comes once the request in flight ended
  t.pass('removing every listener stops every channel (drain)');
  const ch2 = h.unique('b');
  c.on(ch2, () => {}); // stays until removeAllListeners(ch2)
  const got = h.collect(c, ch2, 1);
  await h.publish(stack, ch2, { from: 'x', type: 'again' });
  const [[event]] = await got;
  t.equal(event.type, 'again', 'a listener added afterwards starts polling');
  const drained2 = h.once(c, 'drain');
  c.removeAllListeners(ch2);
  await drained2;
  t.pass('removeAllListeners(channel) stops it');
  c.close();
});
