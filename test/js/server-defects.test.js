'use strict';
// Defects found by testing the daemon from outside (issue 9): each case is
// what a user saw, run against the real daemon and a real Redis.
const t = require('tap');
const net = require('node:net');
const fs = require('node:fs');
const { startServer, request, sleep, unique } = require('../lib/harness');

const REDIS_PORT = Number(process.env.GE_TEST_REDIS_PORT || 6379);

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

async function waitFor(what, fn, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await sleep(20);
  }
}

// Park a long-poll on a raw socket; resolves once the daemon counts it.
async function parkLongPoll(server, channel) {
  const s = net.connect(server.port, '127.0.0.1');
  await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  s.on('error', () => {});
  const before = metric(await metrics(server), 'ganomede_events_longpolls_waiting');
  s.write('GET /events/v1/events?secret=' + server.secret + '&clientId=c&channel=' + channel +
    ' HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor('the long-poll to park', async () =>
    metric(await metrics(server), 'ganomede_events_longpolls_waiting') > before);
  return s;
}

async function assertDroppedWithoutSpinning(t, server, close) {
  const m0 = await metrics(server);
  const dropped0 = metric(m0, 'ganomede_events_requests_total{route="events",status="499"}');
  const s = await parkLongPoll(server, unique('rst'));
  close(s);
  await waitFor('the waiter to go', async () =>
    metric(await metrics(server), 'ganomede_events_longpolls_waiting') === 0);
  const m1 = await metrics(server);
  t.equal(metric(m1, 'ganomede_events_requests_total{route="events",status="499"}'), dropped0 + 1,
    'the drop is counted as 499');
  // The long-poll would wait 30 s: a spinning loop shows as CPU time now.
  const cpu0 = cpuSeconds(server.proc.pid), wall0 = Date.now();
  await sleep(1000);
  const cpu = cpuSeconds(server.proc.pid) - cpu0, wall = (Date.now() - wall0) / 1000;
  t.ok(cpu < 0.3 * wall, 'the daemon is idle after the client left (cpu ' + cpu + ' s in ' + wall + ' s)');
}

t.test('a long-poll whose client resets (RST) is dropped at once, no hot loop', { timeout: 60000 }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT, env: { POLL_TIMEOUT: '30000' } });
  t.teardown(() => server.stop());
  await assertDroppedWithoutSpinning(t, server, (s) => s.resetAndDestroy());
  await assertDroppedWithoutSpinning(t, server, (s) => s.end()); // FIN
  await assertDroppedWithoutSpinning(t, server, (s) => s.destroy());
});

t.test('a pipelined request behind a long-poll does not spin, and a later reset still drops it', { timeout: 60000 }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT, env: { POLL_TIMEOUT: '30000' } });
  t.teardown(() => server.stop());
  const s = await parkLongPoll(server, unique('pipe'));
  s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  const cpu0 = cpuSeconds(server.proc.pid), wall0 = Date.now();
  await sleep(1000);
  const cpu = cpuSeconds(server.proc.pid) - cpu0, wall = (Date.now() - wall0) / 1000;
  t.ok(cpu < 0.3 * wall, 'idle while a pipelined request waits (cpu ' + cpu + ' s in ' + wall + ' s)');
  t.equal(metric(await metrics(server), 'ganomede_events_longpolls_waiting'), 1, 'the long-poll still waits');
  s.resetAndDestroy();
  await waitFor('the waiter to go', async () =>
    metric(await metrics(server), 'ganomede_events_longpolls_waiting') === 0);
  const cpu1 = cpuSeconds(server.proc.pid), wall1 = Date.now();
  await sleep(1000);
  const c2 = cpuSeconds(server.proc.pid) - cpu1, w2 = (Date.now() - wall1) / 1000;
  t.ok(c2 < 0.3 * w2, 'idle after the reset (cpu ' + c2 + ' s in ' + w2 + ' s)');
});
