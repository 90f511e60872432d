'use strict';
// Fault drill: a Node Client and a C client (the
// `ganomede-events listen` CLI) consume one channel while a publisher
// sends events 1..N; midway Redis is SIGKILLed and restarted (same port,
// same AOF), later the daemon is SIGTERMed and restarted (same port, same
// Redis). Both clients must report errors, back off, and end with exactly
// the events 1..N, in order, none skipped, none duplicated.
//
// The faults are injected *between* two publishes (the publisher is held
// while the process is killed, then keeps publishing and retrying through
// the outage). A publish in flight at the very instant Redis dies can be
// stored without its answer reaching us (at-least-once on the producer
// side, covered by drill-server.test.js); holding the publisher keeps the
// published set exactly 1..N, each acknowledged once, so the consumers'
// view can be checked exactly.
//
// DRILL_DEBUG=/path/file.json writes the timeline (fault marks, the Node
// client's errors and cycles, the CLI's stderr and output times, the
// publisher's failed attempts) for diagnosis.
const tap = require('tap');
const fs = require('node:fs');
const path = require('node:path');
const { spawnOwned } = require('../lib/procs');
const h = require('../lib/harness');
const { Client } = require('../..');

const T = { timeout: h.limit(60000) };

const N = 240;
const OUTAGE_MS = 1500;
const POLL_TIMEOUT = 1000;
const CLI = path.join(h.ROOT, h.BUILD, 'ganomede-events');

async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out after ' + ms + ' ms waiting for ' + what);
    await h.sleep(10);
  }
}

// Publishes 1..N on `channel`, each retried until answered 200. pause()
// waits for the send in flight (if any) and holds the next one until
// resume(), so that a fault is never injected in the middle of a publish.
function publisher(url, channel) {
  const st = { acked: [], failures: [], done: null, inflight: Promise.resolve(), hold: null, release: null };
  const sendOnce = async (seq) => {
    try {
      const r = await h.request(url, 'POST', '/events/v1/events',
        { secret: h.SECRET, clientId: 'drill-publisher', channel, from: 'drill/v1', type: 'seq', data: { seq } });
      if (r.status === 200) return r.json;
      st.failures.push({ seq, at: Date.now(), status: r.status, code: r.json && r.json.code });
    } catch (e) {
      st.failures.push({ seq, at: Date.now(), status: 0, code: (e.cause && e.cause.code) || e.message });
    }
    return null;
  };
  st.pause = async () => {
    st.hold = new Promise((r) => { st.release = r; });
    await st.inflight;
  };
  st.resume = () => { const r = st.release; st.hold = null; st.release = null; if (r) r(); };
  st.done = (async () => {
    for (let seq = 1; seq <= N; seq++) {
      const deadline = Date.now() + 20000;
      for (;;) {
        while (st.hold) await st.hold;
        st.inflight = sendOnce(seq); // set synchronously after the hold check
        const ev = await st.inflight;
        if (ev) { st.acked.push(ev.id); break; }
        if (Date.now() > deadline) throw new Error('publish of seq ' + seq + ' never acknowledged');
        await h.sleep(25);
      }
      await h.sleep(3);
    }
  })();
  st.done.catch(() => {}); // awaited (and reported) by the test
  return st;
}

// The C client: `ganomede-events listen --count N`, stdout and stderr kept,
// each stderr line with its arrival time.
function startCli(url, clientId, channel) {
  const wrap = process.env.GE_WRAP ? process.env.GE_WRAP.split(/\s+/).filter(Boolean) : [];
  const args = ['--client-id', clientId, 'listen', '--count', String(N), channel];
  const p = spawnOwned(wrap.length ? wrap[0] : CLI, wrap.length ? wrap.slice(1).concat([CLI], args) : args, {
    env: { PATH: process.env.PATH, GANOMEDE_EVENTS_URL: url, API_SECRET: h.SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r = { proc: p, stdout: '', stderr: '', errLines: [], exit: null };
  let partial = '';
  r.outTimes = [];
  p.stdout.on('data', (d) => { r.stdout += d; r.outTimes.push({ at: Date.now(), lines: r.stdout.split('\n').length - 1 }); });
  p.stderr.on('data', (d) => {
    r.stderr += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop();
    for (const l of lines) r.errLines.push({ at: Date.now(), line: l });
  });
  r.done = new Promise((resolve) => p.on('close', (code, signal) => { r.exit = { code, signal }; resolve(r.exit); }));
  r.lines = () => r.stdout.split('\n').filter(Boolean);
  return r;
}

// Strictly 1..n in order: the first position where `ids` differs, or -1.
function firstMismatch(ids, n) {
  for (let k = 0; k < Math.max(ids.length, n); k++) if (ids[k] !== k + 1) return k;
  return -1;
}
const around = (ids, k) => JSON.stringify(ids.slice(Math.max(0, k - 3), k + 4));

tap.test('drill: Node client and C client through a Redis outage and a daemon restart', T, async (t) => {
  const channel = h.unique('drill-clients');
  const nodeId = h.unique('drill-node');
  const cliId = h.unique('drill-cli');
  const port = await h.freePort();
  const env = { POLL_TIMEOUT: String(POLL_TIMEOUT) };
  let redis = await h.startRedis({ appendonly: true });
  const redisPort = redis.port;
  let server = null, client = null, cli = null, pub = null;
  const dbg = { marks: {}, errors: null, cycles: null, seen: null };
  try {
    server = await h.startServer({ port, redisPort, env });
    const url = server.url;

    // The Node client.
    const seen = [];        // {id, seq, ch}
    const errors = [];      // {at, statusCode, code, restCode, channel}
    const cycles = [];      // {at, error}
    let lastWasError = false;
    Object.assign(dbg, { errors, cycles, seen });
    client = new Client(nodeId, { secret: h.SECRET, protocol: 'http', hostname: '127.0.0.1', port });
    client.on('error', (err, ch) => {
      lastWasError = true;
      errors.push({ at: Date.now(), statusCode: err.statusCode, code: err.code, restCode: err.restCode, channel: ch, message: err.message });
    });
    client.on('cycle', () => { cycles.push({ at: Date.now(), error: lastWasError }); lastWasError = false; });
    client.on(channel, (ev, ch) => { seen.push({ id: ev.id, seq: ev.data && ev.data.seq, ch }); });

    // The C client.
    cli = startCli(url, cliId, channel);

    // The publisher.
    pub = publisher(url, channel);
    const pubFailed = pub.done.then(() => null, (e) => e);
    const progress = async (count, what) => {
      const end = Date.now() + 20000;
      while (pub.acked.length < count) {
        const e = await Promise.race([pubFailed, h.sleep(10).then(() => undefined)]);
        if (e) throw e;
        if (Date.now() > end) throw new Error('publisher stuck at ' + pub.acked.length + ' before ' + what);
      }
    };

    // Fault 1: Redis SIGKILLed between two publishes, down OUTAGE_MS, back
    // on the same port and AOF. Both clients have received something first
    // (the CLI treats an error before its first answer as fatal).
    await progress(N / 3, 'the Redis outage');
    await waitFor(() => seen.length > 0 && cli.lines().length > 0, 10000, 'both clients to receive a first event');
    await pub.pause();
    const redisDownAt = Date.now();
    dbg.marks.redisDownAt = redisDownAt;
    await redis.stop('SIGKILL');
    pub.resume(); // keeps publishing (503s) and retrying through the outage
    await h.sleep(OUTAGE_MS);
    redis = await h.startRedis({ port: redisPort, dir: redis.dir, appendonly: true });
    const redisUpAt = Date.now();
    dbg.marks.redisUpAt = redisUpAt;

    // Fault 2: the daemon SIGTERMed between two publishes, down OUTAGE_MS,
    // started again on the same port against the same Redis.
    // The publisher is held at 2N/3 until both clients have caught up: they
    // have recovered (a success resets their back-off), so the second
    // outage is seen afresh, and a third of the events is still to come.
    await progress(2 * N / 3, 'the daemon restart');
    await pub.pause();
    await waitFor(() => seen.length >= pub.acked.length && cli.lines().length >= pub.acked.length, 15000,
      'both clients to catch up after Redis returned (published ' + pub.acked.length + ', Node ' + seen.length + ', CLI ' + cli.lines().length + ')');
    const daemonDownAt = Date.now();
    dbg.marks.daemonDownAt = daemonDownAt;
    const exit = await server.stop('SIGTERM');
    t.strictSame(exit, { code: 0, signal: null }, 'the daemon exits 0 on SIGTERM');
    server = null;
    dbg.marks.daemonGoneAt = Date.now();
    pub.resume(); // connection refused, retried
    await h.sleep(OUTAGE_MS);
    const daemonUpAt = Date.now();
    dbg.marks.daemonUpAt = daemonUpAt;
    server = await h.startServer({ port, redisPort, env });

    // Everything published, everything received (bounded).
    await progress(N, 'the end');
    const pubError = await pubFailed;
    t.equal(pubError, null, pubError && pubError.message);
    await waitFor(() => seen.length >= N, 15000, 'the Node client to receive ' + N + ' events (has ' + seen.length + ')')
      .catch((e) => { throw new Error(e.message + '; ids around the end ' + around(seen.map((x) => x.id), seen.length - 1)); });
    let cliTimer;
    const cliExit = await Promise.race([cli.done, new Promise((r) => { cliTimer = setTimeout(r, 15000, null); })]);
    clearTimeout(cliTimer);
    t.ok(cliExit, 'the CLI exits after ' + N + ' events (printed ' + cli.lines().length + ')\n' + cli.stderr.slice(-2000));

    // The publisher: exactly 1..N, each acknowledged once.
    t.equal(firstMismatch(pub.acked, N), -1, 'acknowledged ids are 1..N: ' + around(pub.acked, firstMismatch(pub.acked, N)));
    t.ok(pub.failures.some((f) => f.status === 503), 'the publisher saw 503s during the Redis outage');
    t.equal(await h.redisCommand(redisPort, 'GET', 'indices:' + channel), String(N), 'nothing extra was stored');

    // The Node client: 1..N in order, none skipped or duplicated, contents intact.
    const nodeIds = seen.map((x) => x.id);
    const nm = firstMismatch(nodeIds, N);
    t.equal(nm, -1, 'Node client ids are 1..N in order; at index ' + nm + ': ' + around(nodeIds, nm));
    t.ok(seen.every((x) => x.seq === x.id && x.ch === channel), 'each event carries its own data and channel');

    // The C client: exit 0, exactly N lines, 1..N in order, acknowledged.
    t.strictSame(cliExit, { code: 0, signal: null }, 'CLI exit\n' + cli.stderr.slice(-2000));
    const cliEvents = cli.lines().map((l) => JSON.parse(l));
    const cliIds = cliEvents.map((e) => e.id);
    const cm = firstMismatch(cliIds, N);
    t.equal(cm, -1, 'CLI ids are 1..N in order; at index ' + cm + ': ' + around(cliIds, cm));
    t.ok(cliEvents.every((e) => e.data && e.data.seq === e.id && e.type === 'seq' && e.from === 'drill/v1'), 'CLI events intact');
    t.equal(await h.redisCommand(redisPort, 'GET', 'last-fetched:' + cliId + ':' + channel), String(N), 'the CLI acknowledged what it printed');
    // The Node client acknowledges N with its next request.
    const lf = () => h.redisCommand(redisPort, 'GET', 'last-fetched:' + nodeId + ':' + channel);
    const ackEnd = Date.now() + 5000;
    while ((await lf()) !== String(N) && Date.now() < ackEnd) await h.sleep(20);
    t.equal(await lf(), String(N), 'the Node client acknowledged N');

    // Errors were reported, of the right kinds, in both outages.
    const inWindow = (from, to) => (x) => x.at >= from && x.at <= to;
    const redisErrors = errors.filter(inWindow(redisDownAt, redisUpAt + 200));
    const daemonErrors = errors.filter(inWindow(daemonDownAt, daemonUpAt + 200));
    t.ok(redisErrors.length > 0, 'Node client errors during the Redis outage');
    t.ok(daemonErrors.length > 0, 'Node client errors while the daemon was down');
    t.ok(redisErrors.some((e) => e.statusCode === 503 && e.restCode === 'ServiceUnavailable'), '503 during the Redis outage: ' + JSON.stringify(redisErrors));
    t.ok(daemonErrors.some((e) => e.statusCode === 0 && /^E[A-Z]+$/.test(e.code)), 'network error while the daemon was down: ' + JSON.stringify(daemonErrors));
    for (const e of errors) {
      t.equal(e.channel, channel);
      t.ok(e.statusCode === 503 || (e.statusCode === 0 && /^E[A-Z]+$/.test(e.code)), 'error kind: ' + JSON.stringify(e));
    }
    // No hot loop: failed requests per outage (each is one erroring cycle)
    // stay under 10 a second (plus one); a busy loop gives hundreds.
    const errCycles = cycles.filter((c) => c.error);
    t.equal(errCycles.length, errors.length, 'every error is followed by a cycle');
    const fewerThan10PerSecond = (n, from, to) => n < 1 + 10 * (to - from) / 1000;
    for (const [name, from, to] of [['Redis', redisDownAt, redisUpAt], ['daemon', daemonDownAt, daemonUpAt]]) {
      const n = errCycles.filter(inWindow(from, to)).length;
      t.ok(n >= 1 && fewerThan10PerSecond(n, from, to), name + ' outage of ' + (to - from) + ' ms: ' + n + ' failed Node requests');
    }
    // The CLI reported its errors on stderr and retried, also backing off.
    const retries = cli.errLines.filter((l) => /retrying/.test(l.line));
    t.ok(retries.some(inWindow(redisDownAt, redisUpAt + 200)), 'CLI retried during the Redis outage:\n' + cli.stderr);
    t.ok(retries.some(inWindow(daemonDownAt, daemonUpAt + 200)), 'CLI retried while the daemon was down:\n' + cli.stderr);
    for (const [name, from, to] of [['Redis', redisDownAt, redisUpAt], ['daemon', daemonDownAt, daemonUpAt]]) {
      const n = retries.filter(inWindow(from, to)).length;
      t.ok(fewerThan10PerSecond(n, from, to), name + ' outage of ' + (to - from) + ' ms: ' + n + ' failed CLI requests');
    }
    t.ok(!/listen: interrupted|cannot/.test(cli.stderr), cli.stderr);
    t.comment(`publisher: ${pub.failures.length} failed attempts; Node: ${errors.length} errors ` +
      `(Redis outage ${errCycles.filter(inWindow(redisDownAt, redisUpAt)).length}, daemon down ${errCycles.filter(inWindow(daemonDownAt, daemonUpAt)).length}), ` +
      `${cycles.length} cycles; CLI: ${retries.length} retries ` +
      `(Redis outage ${retries.filter(inWindow(redisDownAt, redisUpAt)).length}, daemon down ${retries.filter(inWindow(daemonDownAt, daemonUpAt)).length})`);
  } finally {
    if (process.env.DRILL_DEBUG) {
      fs.writeFileSync(process.env.DRILL_DEBUG, JSON.stringify(Object.assign(dbg, {
        cliErr: cli && cli.errLines, cliOut: cli && cli.outTimes, pubFailures: pub && pub.failures,
      })));
    }
    if (pub) { pub.resume(); pub.hold = new Promise(() => {}); } // stop publishing
    if (client) client.close();
    if (cli && cli.exit === null) { cli.proc.kill('SIGKILL'); await cli.done; }
    if (server) await server.stop();
    await redis.stop();
    fs.rmSync(redis.dir, { recursive: true, force: true });
  }
});
