'use strict';
// An id given again to another event (docs/protocol.md, "Lost events and
// cursor resets"): after a failover to a replica that lacked the last
// events, the counter goes back and new events reuse ids that consumers
// already read. A consumer that sends afterTimestamp (every client we
// ship does) is told with X-Events-Reset and reads again from the last id
// both histories share; none skips the new events silently.
//
// The failover is played on one real Redis: what a lagging replica holds
// is the master's data without its last events, so the test removes them
// and lowers the counter, as the promotion does (the full drill with
// Sentinel is test/js/ha-failover.test.js).
const t = require('tap');
const h = require('../lib/harness');
const { Client } = require('../..');
const { startCli } = require('../lib/client-harness');

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const get = (s, o) => h.request(s.url, 'GET', '/events/v1/events?' + q(Object.assign({ secret: s.secret }, o)));

async function publish(s, channel, data) {
  const r = await h.request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data });
  if (r.status !== 200) throw new Error('publish ' + r.status + ' ' + r.body);
  return r.json;
}

// The promoted replica lacked events keep+1..: they are gone and the
// counter is back at keep. The clock moves on, as it does in a failover.
async function takeBack(redis, channel, keep, last) {
  for (let id = keep + 1; id <= last; id++) {
    await h.redisCommand(redis.port, 'DEL', channel + ':' + id);
    await h.redisCommand(redis.port, 'ZREM', channel + ':keys', channel + ':' + id);
  }
  await h.redisCommand(redis.port, 'SET', 'indices:' + channel, String(keep));
  await h.sleep(5);
}

async function waitFor(cond, ms) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out after ' + ms + ' ms');
    await h.sleep(20);
  }
}

// A private Redis (the test rewrites it) and a daemon on it.
async function privateStack(t, pollTimeout) {
  const redis = await h.startRedis();
  t.teardown(() => redis.stop());
  const s = await h.startServer({ redisPort: redis.port, env: { POLL_TIMEOUT: pollTimeout } });
  t.teardown(() => s.stop());
  return { redis, s };
}

const summary = (r) => [r.status, r.headers.get('x-events-reset'), r.json.map((e) => e.id + ':' + e.data.n)];

t.test('server: afterTimestamp tells a cursor whose id now names another event', { timeout: h.limit(60000) }, async (t) => {
  const { redis, s } = await privateStack(t, '1000');
  const ch = h.unique('reused');
  const old = [];
  for (let n = 1; n <= 5; n++) old.push(await publish(s, ch, { n }));
  await takeBack(redis, ch, 3, 5);
  await publish(s, ch, { n: 6 }); // id 4 again
  await publish(s, ch, { n: 7 }); // id 5 again

  // Without afterTimestamp the cursor looks fine: the new 4 is skipped.
  let r = await get(s, { clientId: 'a', channel: ch, after: 4 });
  t.same(summary(r), [200, null, ['5:7']], 'without it, the old blind spot');

  // With it: told, and read again from 3, the last id both share; through
  // the range read (limit <= 100) and through the script (limit > 100).
  for (const limit of [10, 101]) {
    r = await get(s, { clientId: 'a', channel: ch, after: 5, afterTimestamp: old[4].timestamp, limit });
    t.same(summary(r), [200, '5', ['4:6', '5:7']], 'reset, new events 4 and 5 (limit ' + limit + ')');
  }
  t.equal(await h.redisCommand(redis.port, 'GET', 'last-fetched:a:' + ch), '3', 'the stored cursor is lowered to 3');
  r = await get(s, { clientId: 'a', channel: ch, after: 4, afterTimestamp: old[3].timestamp });
  t.same(summary(r), [200, '5', ['4:6', '5:7']], 'a cursor on a reused id in the middle');

  // A cursor on an event that survived: no signal.
  r = await get(s, { clientId: 'a', channel: ch, after: 3, afterTimestamp: old[2].timestamp });
  t.same(summary(r), [200, null, ['4:6', '5:7']]);
  // The new events' own timestamps: no signal, and the read goes on.
  const now4 = r.json[0];
  r = await get(s, { clientId: 'a', channel: ch, after: 4, afterTimestamp: now4.timestamp });
  t.same(summary(r), [200, null, ['5:7']]);
  // afterTimestamp without after means nothing: the stored cursor (4,
  // acknowledged just above) is read.
  r = await get(s, { clientId: 'a', channel: ch, afterTimestamp: 1 });
  t.same(summary(r), [200, null, ['5:7']]);

  // Bad values: 400, never a guess.
  for (const v of ['', 'abc', '-1', '1.5', '012', '99999999999999999999']) {
    r = await get(s, { clientId: 'a', channel: ch, after: 5, afterTimestamp: v });
    t.same([r.status, r.json.message], [400, 'Invalid afterTimestamp'], JSON.stringify(v));
  }
});

t.test('server: a cursor ahead, with afterTimestamp, goes on from the counter, not from id 1', { timeout: h.limit(60000) }, async (t) => {
  const { redis, s } = await privateStack(t, '1000');
  const ch = h.unique('ahead');
  const old = [];
  for (let n = 1; n <= 5; n++) old.push(await publish(s, ch, { n }));
  await takeBack(redis, ch, 3, 5);

  // Nothing new yet: the request waits, and is told with the first event.
  const parked = get(s, { clientId: 'b', channel: ch, after: 5, afterTimestamp: old[4].timestamp });
  await h.sleep(200);
  await publish(s, ch, { n: 6 });
  t.same(summary(await parked), [200, '4', ['4:6']]);
  // Without afterTimestamp a cursor ahead still reads from id 1.
  await takeBack(redis, ch, 3, 4);
  await publish(s, ch, { n: 7 });
  const r = await get(s, { clientId: 'b', channel: ch, after: 5 });
  t.same(summary(r), [200, '4', ['1:1', '2:2', '3:3', '4:7']]);
  // All the events newer than the client's (Redis replaced by an empty
  // one, then new events): from id 1.
  await h.redisCommand(redis.port, 'FLUSHALL');
  await publish(s, ch, { n: 8 });
  t.same(summary(await get(s, { clientId: 'b', channel: ch, after: 4, afterTimestamp: old[3].timestamp })), [200, '1', ['1:8']]);
});

t.test('Node client and CLI: told, then the events that reuse their ids', { timeout: h.limit(120000) }, async (t) => {
  const { redis, s } = await privateStack(t, '1500');
  const ch = h.unique('nreused');
  for (let n = 1; n <= 5; n++) await publish(s, ch, { n });
  const client = new Client(h.unique('c'), { secret: s.secret, hostname: '127.0.0.1', port: s.port });
  t.teardown(() => client.close());
  const log = [];
  client.on('error', (err) => log.push({ error: err.code }));
  client.on(ch, (ev) => log.push({ id: ev.id, n: ev.data.n }));
  const cli = startCli(s, ['listen', ch], h.unique('cli'), h.limit(60000));
  t.teardown(() => cli.proc.kill('SIGKILL'));
  await waitFor(() => log.length === 5 && cli.events().length === 5, h.limit(30000));

  // Both are parked with after = 5 when the failover takes 4 and 5 back;
  // the first new event (id 4 again) wakes them with a cursor ahead of
  // the counter; the server finds 3 as the last id both share.
  await h.sleep(300);
  await takeBack(redis, ch, 3, 5);
  await publish(s, ch, { n: 6 });
  await publish(s, ch, { n: 7 });
  await publish(s, ch, { n: 8 });
  const seen = (evs) => evs.filter((e) => e.n || (e.data && e.data.n)).map((e) => e.id + ':' + (e.n || e.data.n));
  await waitFor(() => seen(log).length >= 8 && cli.events().length >= 8, h.limit(30000));
  t.same(seen(log), ['1:1', '2:2', '3:3', '4:4', '5:5', '4:6', '5:7', '6:8'], 'Node client: every new event');
  t.same(log.filter((e) => e.error).map((e) => e.error), ['CursorReset'], 'told once, before them');
  t.ok(log.findIndex((e) => e.error) === 5, 'the signal comes before the events that reuse the ids');
  t.same(seen(cli.events()), ['1:1', '2:2', '3:3', '4:4', '5:5', '4:6', '5:7', '6:8'], 'CLI: every new event');
  t.match(cli.stderr, new RegExp('listen ' + ch + ': warning: CursorReset'));
  cli.proc.kill('SIGTERM');
  t.equal((await cli.done).code, 0);
});
