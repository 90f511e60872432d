'use strict';
// Long-polling: timeout, wake-ups (every waiter, no lost wake-up in a race),
// disconnects (FIN, reset, a pipelined request behind the wait: dropped at
// once, without a busy loop), subscriptions dropped, wake-ups across processes.
const tap = require('tap');
const net = require('node:net');
const fs = require('node:fs');
const { REDIS_PORT, startServer, request, redisCommand, unique, sleep, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

const POLL = limit(4000);
let srv;
tap.before(async () => { srv = await startServer({ env: { POLL_TIMEOUT: String(POLL) } }); });
tap.teardown(async () => { await srv.stop(); });

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const publish = (s, channel, type = 'T') => request(s.url, 'POST', '/events/v1/events',
  { secret: s.secret, clientId: 'pub', channel, from: 'tests', type });
const poll = (s, channel, after, clientId = 'waiter', signal) =>
  fetch(s.url + '/events/v1/events?' + q({ secret: s.secret, clientId, channel, after }), { signal })
    .then(async (r) => ({ status: r.status, json: await r.json(), at: Date.now() }));
const numsub = async (ch) => (await redisCommand(REDIS_PORT, 'PUBSUB', 'NUMSUB', ch))[1];

async function until(fn, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await sleep(10);
  }
}

tap.test('a wait with nothing to read answers [] after POLL_TIMEOUT', T, async (t) => {
  const s = await startServer({ env: { POLL_TIMEOUT: '600' } });
  try {
    const t0 = Date.now();
    const r = await poll(s, unique(), 0);
    const took = Date.now() - t0;
    t.strictSame([r.status, r.json], [200, []]);
    t.ok(took >= 550 && took < limit(3000), 'took ' + took + ' ms');
  } finally { await s.stop(); }
});

tap.test('a publish ends the wait at once with the event', T, async (t) => {
  const ch = unique();
  const t0 = Date.now();
  const waiting = poll(srv, ch, 0);
  await until(async () => (await numsub(ch)) === 1, 2000, 'subscription');
  await publish(srv, ch, 'wake');
  const r = await waiting;
  t.equal(r.status, 200);
  t.strictSame(r.json.map((e) => [e.id, e.type]), [[1, 'wake']]);
  t.ok(r.at - t0 < POLL - 500, 'answered before the timeout');
  await until(async () => (await numsub(ch)) === 0, 2000, 'unsubscribe after the last waiter');
});

tap.test('one publish wakes every one of 200 waiters on a channel', T, async (t) => {
  const ch = unique();
  const waiters = [];
  for (let i = 0; i < 200; i++) waiters.push(poll(srv, ch, 0, 'w' + i));
  await sleep(300); // let them all park (a waiter that has not parked yet reads the event anyway)
  const t0 = Date.now();
  await publish(srv, ch, 'fan');
  const results = await Promise.all(waiters);
  const answeredWithEvent = results.filter((r) => r.status === 200 && r.json.length === 1 && r.json[0].type === 'fan');
  t.equal(answeredWithEvent.length, 200);
  const slowest = Math.max(...results.map((r) => r.at)) - t0;
  t.ok(slowest < POLL - 500, 'all answered long before the timeout (slowest ' + slowest + ' ms)');
  t.equal(await numsub(ch) <= 1, true);
});

tap.test('a publish racing the start of a wait is never missed (200 tries)', T, async (t) => {
  const ch = unique('race');
  let missed = 0;
  for (let i = 0; i < 200; i++) {
    const t0 = Date.now();
    const waiting = poll(srv, ch, i, 'racer');
    if (i % 3 === 1) await sleep(0);
    if (i % 3 === 2) await sleep(1);
    const pub = await publish(srv, ch);
    t.equal(pub.json.id, i + 1);
    const r = await waiting;
    if (!(r.json.length === 1 && r.json[0].id === i + 1) || r.at - t0 > POLL / 2) missed++;
  }
  t.equal(missed, 0, missed + ' wake-ups missed');
});

tap.test('a client that disconnects while waiting is forgotten at once', T, async (t) => {
  const ch = unique();
  const ac = new AbortController();
  const waiting = poll(srv, ch, 0, 'quitter', ac.signal).catch((e) => e);
  await until(async () => (await numsub(ch)) === 1, 2000, 'subscription');
  const t0 = Date.now();
  ac.abort();
  await waiting;
  await until(async () => (await numsub(ch)) === 0, POLL / 2, 'unsubscribe after disconnect');
  t.ok(Date.now() - t0 < POLL / 2);
  // The server is fine and later waiters on the channel still work.
  const again = poll(srv, ch, 0);
  await until(async () => (await numsub(ch)) === 1, 2000, 'subscription');
  await publish(srv, ch);
  t.equal((await again).json.length, 1);
});

tap.test('many disconnects while waiting leave nothing behind', T, async (t) => {
  const ch = unique();
  const acs = [];
  const all = [];
  for (let i = 0; i < 50; i++) {
    const ac = new AbortController();
    acs.push(ac);
    all.push(poll(srv, ch, 0, 'q' + i, ac.signal).catch(() => null));
  }
  await until(async () => (await numsub(ch)) === 1, 2000, 'subscription');
  await sleep(100);
  acs.forEach((ac) => ac.abort());
  await Promise.all(all);
  await until(async () => (await numsub(ch)) === 0, POLL / 2, 'unsubscribe');
  const r = await request(srv.url, 'GET', '/health');
  t.equal(r.status, 200);
});

tap.test('a publish on another server sharing the Redis wakes the waiters here', T, async (t) => {
  const other = await startServer({ env: { POLL_TIMEOUT: String(POLL) } });
  try {
    const ch = unique();
    const t0 = Date.now();
    const waiting = poll(srv, ch, 0);
    await until(async () => (await numsub(ch)) === 1, 2000, 'subscription');
    await publish(other, ch, 'remote');
    const r = await waiting;
    t.strictSame(r.json.map((e) => e.type), ['remote']);
    t.ok(r.at - t0 < POLL - 500);
  } finally { await other.stop(); }
});

tap.test('WORKERS=2 serves from two processes and wakes across them', T, async (t) => {
  const s = await startServer({ env: { WORKERS: '2', POLL_TIMEOUT: String(POLL) } });
  try {
    const ch = unique();
    const waiters = [];
    for (let i = 0; i < 20; i++) waiters.push(poll(s, ch, 0, 'k' + i));
    await sleep(300);
    const pubs = [];
    for (let i = 0; i < 10; i++) pubs.push(publish(s, unique()));
    t.ok((await Promise.all(pubs)).every((r) => r.status === 200));
    await publish(s, ch, 'both');
    const res = await Promise.all(waiters);
    t.ok(res.every((r) => r.json.length === 1 && r.json[0].type === 'both'));
    const ps = require('node:child_process').execSync('pgrep -P ' + s.proc.pid).toString().trim().split('\n');
    t.equal(ps.length, 2, 'two worker processes');
  } finally {
    const e = await s.stop();
    t.equal(e.code, 0);
  }
});

// utime + stime of a process, in seconds.
function cpuSeconds(pid) {
  const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

async function metrics(server) {
  return (await request(server.url, 'GET', '/metrics')).body;
}

function metric(text, name) {
  const m = new RegExp('^' + name.replace(/[{}"\\]/g, (c) => '\\' + c) + ' (\\S+)$', 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const waitersOf = async (server) => metric(await metrics(server), 'ganomede_events_longpolls_waiting');

// Park a long-poll on a raw socket; resolves once the daemon counts it.
async function parkLongPoll(server, channel) {
  const s = net.connect(server.port, '127.0.0.1');
  await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  s.on('error', () => {});
  const before = await waitersOf(server);
  s.write('GET /events/v1/events?secret=' + server.secret + '&clientId=c&channel=' + channel +
    ' HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(async () => (await waitersOf(server)) > before, limit(15000), 'the long-poll to park');
  return s;
}

async function assertDroppedWithoutSpinning(t, server, close) {
  const m0 = await metrics(server);
  const dropped0 = metric(m0, 'ganomede_events_requests_total{route="events",status="499"}');
  const s = await parkLongPoll(server, unique('rst'));
  close(s);
  await until(async () => (await waitersOf(server)) === 0, limit(15000), 'the waiter to go');
  const m1 = await metrics(server);
  t.equal(metric(m1, 'ganomede_events_requests_total{route="events",status="499"}'), dropped0 + 1,
    'the drop is counted as 499');
  // The long-poll would wait 30 s: a spinning loop shows as CPU time now.
  const cpu0 = cpuSeconds(server.proc.pid), wall0 = Date.now();
  await sleep(1000);
  const cpu = cpuSeconds(server.proc.pid) - cpu0, wall = (Date.now() - wall0) / 1000;
  t.ok(cpu < 0.3 * wall, 'the daemon is idle after the client left (cpu ' + cpu + ' s in ' + wall + ' s)');
}

tap.test('a long-poll whose client resets (RST) is dropped at once, no hot loop', T, async (t) => {
  const server = await startServer({ env: { POLL_TIMEOUT: '30000' } });
  t.teardown(() => server.stop());
  await assertDroppedWithoutSpinning(t, server, (s) => s.resetAndDestroy());
  await assertDroppedWithoutSpinning(t, server, (s) => s.end()); // FIN
  await assertDroppedWithoutSpinning(t, server, (s) => s.destroy());
});

tap.test('a pipelined request behind a long-poll does not spin, and a later reset still drops it', T, async (t) => {
  const server = await startServer({ env: { POLL_TIMEOUT: '30000' } });
  t.teardown(() => server.stop());
  const s = await parkLongPoll(server, unique('pipe'));
  s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  const cpu0 = cpuSeconds(server.proc.pid), wall0 = Date.now();
  await sleep(1000);
  const cpu = cpuSeconds(server.proc.pid) - cpu0, wall = (Date.now() - wall0) / 1000;
  t.ok(cpu < 0.3 * wall, 'idle while a pipelined request waits (cpu ' + cpu + ' s in ' + wall + ' s)');
  t.equal(await waitersOf(server), 1, 'the long-poll still waits');
  s.resetAndDestroy();
  await until(async () => (await waitersOf(server)) === 0, limit(15000), 'the waiter to go');
  const cpu1 = cpuSeconds(server.proc.pid), wall1 = Date.now();
  await sleep(1000);
  const c2 = cpuSeconds(server.proc.pid) - cpu1, w2 = (Date.now() - wall1) / 1000;
  t.ok(c2 < 0.3 * w2, 'idle after the reset (cpu ' + c2 + ' s in ' + w2 + ' s)');
});
