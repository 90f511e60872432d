'use strict';
// Defects found by testing the daemon from outside (issue 9): each case is
// what a user saw, run against the real daemon and a real Redis.
const t = require('tap');
const net = require('node:net');
const fs = require('node:fs');
const { REDIS_PORT, startServer, request, sleep, unique, limit } = require('../lib/harness');

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
  const deadline = Date.now() + limit(ms);
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

t.test('a long-poll whose client resets (RST) is dropped at once, no hot loop', { timeout: limit(60000) }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT, env: { POLL_TIMEOUT: '30000' } });
  t.teardown(() => server.stop());
  await assertDroppedWithoutSpinning(t, server, (s) => s.resetAndDestroy());
  await assertDroppedWithoutSpinning(t, server, (s) => s.end()); // FIN
  await assertDroppedWithoutSpinning(t, server, (s) => s.destroy());
});

t.test('a pipelined request behind a long-poll does not spin, and a later reset still drops it', { timeout: limit(60000) }, async (t) => {
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

// ---- names that collide in Redis (issue 9 item 2) ----

const { redisCommand } = require('../lib/harness');
const redis = (...a) => redisCommand(REDIS_PORT, ...a);
const publish = (server, channel, extra = {}) => request(server.url, 'POST', '/events/v1/events',
  Object.assign({ secret: server.secret, clientId: 'c', channel, from: 'f', type: 't' }, extra));

t.test('a publish that cannot be stored is an error, and nothing is written', { timeout: limit(60000) }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT });
  t.teardown(() => server.stop());
  const ch = unique('lost');
  t.equal((await publish(server, ch, { data: { n: 1 } })).status, 200);
  // The counter is gone (an operator's DEL, a flush of one key...) while
  // event 1 is still there: the next id would overwrite nothing but
  // would never be stored either.
  await redis('DEL', 'indices:' + ch);
  const res = await publish(server, ch, { data: { n: 2 } });
  t.equal(res.status, 500, 'not acknowledged');
  t.equal(res.json.code, 'KeyCollision');
  t.match(res.json.message, ch + ':1 already exists');
  t.equal(await redis('GET', 'indices:' + ch), null, 'the counter is not advanced');
  t.same(JSON.parse(await redis('GET', ch + ':1')).data, { n: 1 }, 'event 1 untouched');
  t.equal(await redis('ZCARD', ch + ':keys'), 1);

  // A channel named like an index: its counter key holds the definition.
  const ix = unique('ix');
  t.equal((await request(server.url, 'POST', '/events/v1/indices',
    { secret: server.secret, id: ix, channel: 'c', field: 'data.x' })).json, 'OK');
  const res2 = await publish(server, ix);
  t.equal(res2.status, 500);
  t.equal(res2.json.code, 'KeyCollision');
  t.match(await redis('GET', 'indices:' + ix), /^\{"id"/, 'the definition is untouched');
  t.equal(await redis('EXISTS', ix + ':1'), 0);
  t.equal(await redis('EXISTS', ix + ':keys'), 0);
  t.equal(await redis('PING'), 'PONG');
});

t.test('an index id equal to a channel name is a conflict, not "exists"', { timeout: limit(60000) }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT });
  t.teardown(() => server.stop());
  const ch = unique('chix');
  t.equal((await publish(server, ch)).status, 200);
  const res = await request(server.url, 'POST', '/events/v1/indices',
    { secret: server.secret, id: ch, channel: 'other', field: 'data.x' });
  t.equal(res.status, 409);
  t.equal(res.json.code, 'KeyCollision');
  t.equal(await redis('GET', 'indices:' + ch), '1', 'the counter is untouched');
  t.equal((await publish(server, ch)).json.id, 2, 'the channel goes on');
  // The same id again on a real index is still the original's null.
  const ix = unique('ix');
  const def = { secret: server.secret, id: ix, channel: ch, field: 'data.x' };
  t.equal((await request(server.url, 'POST', '/events/v1/indices', def)).json, 'OK');
  t.equal((await request(server.url, 'POST', '/events/v1/indices', def)).json, null);
});

t.test('reads that meet a key of the wrong type answer a clear error', { timeout: limit(60000) }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT });
  t.teardown(() => server.stop());
  const q = (p) => request(server.url, 'GET', p + (p.includes('?') ? '&' : '?') + 'secret=' + server.secret);
  const ch = unique('wt');
  await redis('SET', ch + ':keys', 'not a zset');
  for (const p of ['/events/v1/latest?channel=' + ch,
    '/events/v1/events?clientId=c&limit=500&after=0&channel=' + ch,
    '/events/v1/events?clientId=c&channel=' + ch]) {
    const res = await q(p);
    t.equal(res.status, 500, p);
    t.equal(res.json && res.json.code, 'KeyCollision', p);
  }
  // An index whose definition key is a channel's counter.
  const ch2 = unique('wt');
  await publish(server, ch2);
  let res = await q('/events/v1/indices/' + ch2 + '/v');
  t.equal(res.status, 500);
  t.equal(res.json.code, 'KeyCollision');
  t.match(res.json.message, 'indices:' + ch2);
  // An index list key taken by a string: the whole batch is refused, so
  // no value is listed twice once the key is freed.
  const ch3 = unique('wt'), ix = unique('ix');
  await request(server.url, 'POST', '/events/v1/indices', { secret: server.secret, id: ix, channel: ch3, field: 'data.v' });
  await publish(server, ch3, { data: { v: 'a' } });
  await publish(server, ch3, { data: { v: 'b' } });
  await redis('SET', 'index:' + ix + ':b', 'junk');
  res = await q('/events/v1/indices/' + ix + '/a');
  t.equal(res.status, 500);
  t.equal(res.json.code, 'KeyCollision');
  await redis('DEL', 'index:' + ix + ':b');
  res = await q('/events/v1/indices/' + ix + '/a');
  t.equal(res.status, 200);
  t.same(res.json.rows.map((e) => e.id), [1], 'event 1 listed once');
  t.equal((await request(server.url, 'GET', '/health')).status, 200, 'the daemon is still up');
});

t.test('channel names that can only collide are refused with 400', { timeout: limit(60000) }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT });
  t.teardown(() => server.stop());
  for (const ch of ['indices', 'indices:x', 'index:byu', 'last-fetched:c']) {
    let res = await publish(server, ch);
    t.equal(res.status, 400, 'publish ' + ch);
    t.equal(res.json.code, 'InvalidContent');
    t.match(res.json.message, /^Invalid Channel/);
    res = await request(server.url, 'GET', '/events/v1/events?secret=' + server.secret + '&clientId=c&channel=' + encodeURIComponent(ch));
    t.equal(res.status, 400, 'read ' + ch);
    res = await request(server.url, 'GET', '/events/v1/latest?secret=' + server.secret + '&channel=' + encodeURIComponent(ch));
    t.equal(res.status, 400, 'latest ' + ch);
    res = await request(server.url, 'POST', '/events/v1/indices', { secret: server.secret, id: unique('ix'), channel: ch, field: 'data.x' });
    t.equal(res.status, 400, 'index on ' + ch);
  }
  for (const ch of ['index', 'last-fetched', 'indices-x', 'a:index:b', '1', 'keys']) {
    t.equal((await publish(server, ch + '-' + unique(''))).status, 200, 'allowed: ' + ch);
  }
});

// ---- HTTP details (issue 9 items 4, 5, 9) ----

// One raw exchange on a connection of its own: everything the daemon sent
// until it closed the connection.
function rawExchange(port, text, ms = 10000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no close within ' + limit(ms) + ' ms: ' + out)); }, limit(ms));
    s.on('data', (d) => { out += d.toString('latin1'); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => { clearTimeout(timer); resolve(out); });
    s.write(text);
  });
}

t.test('HEAD answers carry headers only, everywhere', { timeout: limit(60000) }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT });
  t.teardown(() => server.stop());
  const paths = ['/health', '/metrics', '/events/v1/ping/x', '/nope', '/about',
    '/events/v1/events?secret=' + server.secret + '&channel=x&clientId=c'];
  for (const p of paths) {
    const out = await rawExchange(server.port, 'HEAD ' + p + ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const end = out.indexOf('\r\n\r\n');
    t.ok(end > 0, 'a head for ' + p);
    t.equal(out.slice(end + 4), '', 'no body after the head of HEAD ' + p);
    // Node's own client fails a HEAD answer that carries a body.
    const status = await new Promise((resolve, reject) => {
      const req = require('node:http').request(server.url + p, { method: 'HEAD', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end();
    });
    t.ok(status >= 200, 'node reads HEAD ' + p + ' (' + status + ')');
  }
  // Pipelined behind a HEAD, the next answer is read as the next answer.
  const out = await rawExchange(server.port, 'HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /events/v1/ping/two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(out, /^HTTP\/1\.1 404 [^\r]*\r\n(?:[^\r]+\r\n)*\r\nHTTP\/1\.1 200 /, 'two answers, the first without body');
  t.match(out, /"pong\/two"$/);
});

t.test('405 answers carry Allow', { timeout: limit(60000) }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT });
  t.teardown(() => server.stop());
  const cases = [['DELETE', '/events/v1/events', 'GET, POST'], ['PUT', '/health', 'GET, HEAD'],
    ['GET', '/events/v1/indices', 'POST'], ['POST', '/about', 'GET'], ['PATCH', '/events/v1/ping/x', 'GET, HEAD']];
  for (const [m, p, allow] of cases) {
    const res = await request(server.url, m, p);
    t.equal(res.status, 405, m + ' ' + p);
    t.equal(res.headers.get('allow'), allow, 'Allow of ' + p);
    t.equal(res.json.code, 'MethodNotAllowed');
  }
});

t.test('a head over MAX_HEADER_BYTES gets a JSON 431', { timeout: limit(60000) }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT, env: { MAX_HEADER_BYTES: '4096' } });
  t.teardown(() => server.stop());
  const res = await request(server.url, 'GET', '/health', undefined, { 'x-big': 'a'.repeat(6000) });
  t.equal(res.status, 431);
  t.equal(res.headers.get('content-type'), 'application/json');
  t.equal(res.json.code, 'RequestHeaderFieldsTooLarge');
  const ok = await request(server.url, 'GET', '/health', undefined, { 'x-big': 'a'.repeat(3000) });
  t.equal(ok.status, 200, 'a head under the limit is served');
});

// ---- WORKERS (issue 9 items 6, 7) ----

function childrenOf(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync('/proc/' + d + '/stat', 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid && f[0] !== 'Z') out.push(Number(d));
    } catch (_) { /* gone meanwhile */ }
  }
  return out.sort();
}
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (_) { return false; } };

t.test('a second WORKERS=2 daemon on a port in use exits 1 with a clear message', { timeout: limit(60000) }, async (t) => {
  const first = await startServer({ redisPort: REDIS_PORT, env: { WORKERS: '2' } });
  t.teardown(() => first.stop());
  const second = await startServer({ redisPort: REDIS_PORT, port: first.port, wait: false, env: { WORKERS: '2' } });
  const timer = setTimeout(() => second.proc.kill('SIGKILL'), limit(20000));
  const e = await second.exited;
  clearTimeout(timer);
  t.equal(e.code, 1, 'exit status 1');
  t.match(second.stderr, /cannot listen on 127\.0\.0\.1:\d+: Address already in use/);
  t.equal((await request(first.url, 'GET', '/health')).status, 200, 'the first one goes on');
});

t.test('WORKERS: workers exit with their parent, and a dead worker is replaced', { timeout: limit(60000) }, async (t) => {
  const server = await startServer({ redisPort: REDIS_PORT, env: { WORKERS: '2', LOG_LEVEL: 'INFO' } });
  t.teardown(() => server.stop('SIGKILL'));
  let workers;
  await waitFor('two workers', async () => (workers = childrenOf(server.proc.pid)).length === 2);

  process.kill(workers[0], 'SIGKILL');
  // New connections meanwhile are not reset: the dead worker's socket stays
  // open in the parent and its queue waits for the replacement.
  const getStatus = (url) => new Promise((resolve, reject) => {
    require('node:http').get(url, { agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); })
      .on('error', reject);
  });
  const statuses = await Promise.all(Array.from({ length: 20 }, () =>
    getStatus(server.url + '/events/v1/ping/w').catch((e) => e.code)));
  t.same(statuses, Array(20).fill(200), 'every connection made while a worker was down is served');
  await waitFor('a replacement worker', async () => {
    const now = childrenOf(server.proc.pid);
    return now.length === 2 && !now.includes(workers[0]);
  });
  t.ok(alive(server.proc.pid), 'the parent lives on');
  t.match(server.stdout, /worker 0 died of signal 9/);
  t.equal((await request(server.url, 'GET', '/health')).status, 200, 'still serving');

  workers = childrenOf(server.proc.pid);
  server.proc.kill('SIGKILL');
  await server.exited;
  await waitFor('the workers to exit', async () => workers.every((p) => !alive(p)));
  t.pass('no orphan worker keeps serving');
  const closed = await new Promise((resolve) => {
    const s = net.connect(server.port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
  t.ok(closed, 'the port is closed');
});
