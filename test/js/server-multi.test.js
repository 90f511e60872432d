'use strict';
// One long-poll for many channels (POST /events/v1/events/multi,
// docs/protocol.md): events grouped by channel, each channel's `after`
// acknowledged, the lost-range and reset signals per channel, `limit` per
// channel and `totalLimit` per answer shared fairly, waiting on every
// channel (one publish answers it, none is missed), 1,000+ channels, and
// bad input answered 400.
const tap = require('tap');
const { startServer, request, unique, sleep, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };
const POLL = limit(3000);
const MULTI = '/events/v1/events/multi';

let srv;
tap.before(async () => { srv = await startServer({ env: { POLL_TIMEOUT: String(POLL) } }); });
tap.teardown(async () => { await srv.stop(); });

const publish = (s, channel, type = 'T') => request(s.url, 'POST', '/events/v1/events',
  { secret: s.secret, clientId: 'pub', channel, from: 'tests', type });
const multi = (s, body) => request(s.url, 'POST', MULTI, Object.assign({ secret: s.secret }, body));
const get = (s, q) => request(s.url, 'GET', '/events/v1/events?' + new URLSearchParams(Object.assign({ secret: s.secret }, q)));
const byChannel = (json) => Object.fromEntries(json.channels.map((c) => [c.channel, c]));
const ids = (c) => c.events.map((e) => e.id);

tap.test('events come grouped by channel, in id order, and only channels with events are listed', T, async (t) => {
  const [a, b, c] = [unique(), unique(), unique()];
  for (const ch of [a, b, a, a]) await publish(srv, ch);
  const r = await multi(srv, { clientId: unique(), channels: [{ channel: a, after: 0 }, { channel: b, after: 0 }, { channel: c, after: 0 }] });
  t.equal(r.status, 200);
  t.match(r.headers.get('content-type'), /application\/json/);
  t.same(r.json.channels.map((x) => x.channel), [a, b], 'the request\'s order, channels with nothing left out');
  const m = byChannel(r.json);
  t.same(ids(m[a]), [1, 2, 3]);
  t.same(ids(m[b]), [1]);
  t.notOk('lost' in m[a] || 'reset' in m[a], 'no signal when none applies');
  const after = await multi(srv, { clientId: unique(), channels: [{ channel: a, after: 2 }, { channel: b, after: 1 }] });
  t.same(after.json, { channels: [{ channel: a, events: after.json.channels[0].events }] });
  t.same(ids(after.json.channels[0]), [3], 'from each channel\'s own after');
});

tap.test('each channel\'s after is acknowledged as GET /events acknowledges it', T, async (t) => {
  const [a, b] = [unique(), unique()];
  const client = unique();
  for (const ch of [a, a, a, b, b]) await publish(srv, ch);
  const r = await multi(srv, { clientId: client, channels: [{ channel: a, after: 2 }, { channel: b, after: 1 }] });
  t.equal(r.status, 200);
  // Without after, a read starts from the stored cursor, for both routes.
  const ga = await get(srv, { clientId: client, channel: a });
  t.same(ga.json.map((e) => e.id), [3]);
  const mb = await multi(srv, { clientId: client, channels: [{ channel: b }] });
  t.same(ids(mb.json.channels[0]), [2]);
});

tap.test('a request with nothing to read waits, and one publish on any of its channels answers it', T, async (t) => {
  const chans = Array.from({ length: 50 }, () => unique());
  const t0 = Date.now();
  const pending = multi(srv, { clientId: unique(), channels: chans.map((channel) => ({ channel, after: 0 })) });
  await sleep(300);
  await publish(srv, chans[37], 'wake');
  const r = await pending;
  t.ok(Date.now() - t0 < POLL, 'answered before the timeout');
  t.equal(r.json.channels.length, 1);
  t.equal(r.json.channels[0].channel, chans[37]);
  t.equal(r.json.channels[0].events[0].type, 'wake');
});

tap.test('a publish right after the request started is not missed', T, async (t) => {
  for (let i = 0; i < 20; i++) {
    const chans = [unique(), unique(), unique()];
    const pending = multi(srv, { clientId: unique(), channels: chans.map((channel) => ({ channel, after: 0 })) });
    await sleep(i % 5);
    await publish(srv, chans[i % 3]);
    const r = await pending;
    t.same(r.json.channels.map((c) => c.channel), [chans[i % 3]], 'round ' + i);
  }
});

tap.test('an event published between two requests of a client is answered by the next one at once', T, async (t) => {
  const client = unique();
  const [a, b] = [unique(), unique()];
  for (let round = 0; round < 5; round++) {
    await publish(srv, a);
    const r1 = await multi(srv, { clientId: client, channels: [{ channel: a, after: round }, { channel: b, after: round }] });
    t.same(r1.json.channels.map((c) => c.channel), [a], 'round ' + round + ': a');
    await publish(srv, b);
    const t0 = Date.now();
    const r2 = await multi(srv, { clientId: client, channels: [{ channel: a, after: round + 1 }, { channel: b, after: round }] });
    t.same(r2.json.channels.map((c) => [c.channel, ids(c)]), [[b, [round + 1]]], 'round ' + round + ': b');
    t.ok(Date.now() - t0 < POLL, 'not at the timeout');
  }
  // What the requests acknowledged is stored: a read without after resumes there.
  const g = await get(srv, { clientId: client, channel: b });
  t.same(g.json.map((e) => e.id), [5], 'from b\'s last acknowledged id, 4');
});

tap.test('the same without after: the next request reads from the stored cursor and finds what was published', T, async (t) => {
  const client = unique();
  const [a, b] = [unique(), unique()];
  for (let round = 0; round < 3; round++) {
    await publish(srv, a);
    const r1 = await multi(srv, { clientId: client, channels: [{ channel: a, after: round }, { channel: b }] });
    // b, never acknowledged, has its events from the start in every answer.
    t.same(r1.json.channels.map((c) => c.channel), round ? [a, b] : [a], 'round ' + round + ': a');
    await publish(srv, b);
    const r2 = await multi(srv, { clientId: client, channels: [{ channel: a, after: round + 1 }, { channel: b }] });
    t.same(r2.json.channels.map((c) => [c.channel, ids(c)]), [[b, Array.from({ length: round + 1 }, (_, i) => i + 1)]], 'round ' + round + ': b');
  }
});

tap.test('with nothing published it answers {"channels":[]} after POLL_TIMEOUT', T, async (t) => {
  const s = await startServer({ env: { POLL_TIMEOUT: '500' } });
  t.teardown(() => s.stop());
  const t0 = Date.now();
  const r = await multi(s, { clientId: unique(), channels: [{ channel: unique(), after: 0 }, { channel: unique() }] });
  const took = Date.now() - t0;
  t.same([r.status, r.json], [200, { channels: [] }]);
  t.ok(took >= 450 && took < limit(3000), 'took ' + took + ' ms');
});

tap.test('lost ranges and resets are told per channel, in the body', T, async (t) => {
  const s = await startServer({ env: { RETENTION_MAX_EVENTS: '10', POLL_TIMEOUT: '500' } });
  t.teardown(() => s.stop());
  const [trimmed, fine, behind] = [unique(), unique(), unique()];
  for (let i = 0; i < 15; i++) await publish(s, trimmed);
  await publish(s, fine);
  for (let i = 0; i < 3; i++) await publish(s, behind);
  const r = await multi(s, {
    clientId: unique(),
    channels: [{ channel: trimmed, after: 0 }, { channel: fine, after: 0 }, { channel: behind, after: 50 }],
  });
  t.equal(r.status, 200);
  t.equal(r.headers.get('x-events-lost'), null, 'no header: the signals are per channel');
  const m = byChannel(r.json);
  t.same(m[trimmed].lost, { from: 1, to: 5 });
  t.same(ids(m[trimmed]), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  t.notOk('lost' in m[fine] || 'reset' in m[fine]);
  t.same(m[behind].reset, { lastId: 3 }, 'a cursor beyond the channel\'s last id');
  t.same(ids(m[behind]), [1, 2, 3], 'read again from the start');
  // The same as GET /events says for one channel.
  const g = await get(s, { clientId: unique(), channel: trimmed, after: 0 });
  t.equal(g.headers.get('x-events-lost'), '1-5');
});

tap.test('a reset of an empty channel is told at the timeout', T, async (t) => {
  const s = await startServer({ env: { POLL_TIMEOUT: '500' } });
  t.teardown(() => s.stop());
  const ch = unique();
  const r = await multi(s, { clientId: unique(), channels: [{ channel: ch, after: 7 }, { channel: unique(), after: 0 }] });
  t.same(r.json, { channels: [{ channel: ch, events: [], reset: { lastId: 0 } }] });
});

tap.test('limit applies per channel and totalLimit per answer, shared so a busy channel cannot starve the others', T, async (t) => {
  const busy = unique();
  const quiet = Array.from({ length: 5 }, () => unique());
  for (let i = 0; i < 30; i++) await publish(srv, busy);
  for (const ch of quiet) await publish(srv, ch);
  const channels = [{ channel: busy, after: 0 }].concat(quiet.map((channel) => ({ channel, after: 0 })));
  let m = byChannel((await multi(srv, { clientId: unique(), limit: 4, channels })).json);
  t.same(ids(m[busy]), [1, 2, 3, 4], 'limit: per channel');
  for (const ch of quiet) t.same(ids(m[ch]), [1]);
  const r = await multi(srv, { clientId: unique(), totalLimit: 10, channels });
  m = byChannel(r.json);
  t.equal(r.json.channels.reduce((n, c) => n + c.events.length, 0), 10, 'totalLimit: per answer');
  t.same(ids(m[busy]), [1, 2, 3, 4, 5], 'the busy channel gets what the others leave');
  for (const ch of quiet) t.same(ids(m[ch]), [1], 'every channel with events is in the answer');
  // Fewer than the channels with events: each still gets one.
  const few = await multi(srv, { clientId: unique(), totalLimit: 2, channels });
  t.same(few.json.channels.map((c) => c.events.length), [1, 1, 1, 1, 1, 1]);
});

tap.test('2,000 channels in one request: read in one go, and a publish on the last one answers it', T, async (t) => {
  const chans = Array.from({ length: 2000 }, (_, i) => unique() + '-' + i);
  await publish(srv, chans[1000]);
  const first = await multi(srv, { clientId: unique(), channels: chans.map((channel) => ({ channel, after: 0 })) });
  t.same(first.json.channels.map((c) => c.channel), [chans[1000]]);
  const pending = multi(srv, { clientId: unique(), channels: chans.map((channel) => ({ channel, after: channel === chans[1000] ? 1 : 0 })) });
  await sleep(500);
  await publish(srv, chans[1999]);
  const r = await pending;
  t.same(r.json.channels.map((c) => [c.channel, ids(c)]), [[chans[1999], [1]]]);
});

tap.test('bad input gets a clear 400, a bad secret 401, another method 405', T, async (t) => {
  const ok = [{ channel: unique(), after: 0 }];
  const cases = [
    [{ clientId: 'c' }, /Invalid channels/],
    [{ clientId: 'c', channels: 'x' }, /Invalid channels/],
    [{ clientId: 'c', channels: [] }, /at least one channel/],
    [{ channels: ok }, /Invalid Client ID/],
    [{ clientId: '', channels: ok }, /Invalid Client ID/],
    [{ clientId: 'c', channels: [{ after: 0 }] }, /Invalid Channel at channels\[0\]/],
    [{ clientId: 'c', channels: [ok[0], { channel: 5 }] }, /Invalid Channel at channels\[1\]/],
    [{ clientId: 'c', channels: [ok[0], 'x'] }, /Invalid Channel at channels\[1\]/],
    [{ clientId: 'c', channels: [{ channel: '' }] }, /Invalid Channel at channels\[0\]/],
    [{ clientId: 'c', channels: [ok[0], { channel: 'indices:x' }] }, /are reserved.*\(channels\[1\]\)/],
    [{ clientId: 'c', channels: [ok[0], ok[0]] }, /Channel given twice/],
    [{ clientId: 'c', channels: [{ channel: 'a', after: -1 }] }, /Invalid after at channels\[0\]/],
    [{ clientId: 'c', channels: [{ channel: 'a', after: '3' }] }, /Invalid after/],
    [{ clientId: 'c', channels: [{ channel: 'a', after: 1.5 }] }, /Invalid after/],
    [{ clientId: 'c', channels: [{ channel: 'a', after: 1, afterTimestamp: 'x' }] }, /Invalid afterTimestamp/],
    [{ clientId: 'c', limit: 0, channels: ok }, /Invalid limit/],
    [{ clientId: 'c', limit: 1001, channels: ok }, /Invalid limit/],
    [{ clientId: 'c', totalLimit: 0, channels: ok }, /Invalid totalLimit/],
    [{ clientId: 'c', channels: Array.from({ length: 10001 }, (_, i) => ({ channel: 'c' + i })) }, /Too many channels \(at most 10000/],
  ];
  for (const [body, msg] of cases) {
    const r = await multi(srv, body);
    t.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
    t.equal(r.json && r.json.code, 'InvalidContent');
    t.match(r.json && r.json.message, msg);
  }
  const form = await request(srv.url, 'POST', MULTI, 'secret=' + srv.secret + '&clientId=c',
    { 'content-type': 'application/x-www-form-urlencoded' });
  t.equal(form.status, 400);
  t.match(form.json.message, /JSON body/);
  const bad = await request(srv.url, 'POST', MULTI, { secret: 'nope', clientId: 'c', channels: ok });
  t.equal(bad.status, 401);
  const g = await request(srv.url, 'GET', MULTI + '?secret=' + srv.secret);
  t.equal(g.status, 405);
  t.equal(g.headers.get('allow'), 'POST');
});
