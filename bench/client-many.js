'use strict';
// Benchmark: one Client listening on N channels (default 1,000), polled
// one request per channel (pollPerChannel: true, as before the
// multi-channel route) and with one long-poll for all of them, in one run,
// each against a fresh daemon:
//   - TCP connections at the daemon while every channel waits,
//   - the daemon's RSS then,
//   - publish -> listener time (p50/p99) for one event among the N channels
//     (ROUNDS rounds, one random channel each, the poll parked again in between)
//     and for bursts of one event on every channel (BURSTS bursts),
//   - the daemon's CPU (user + system) per delivered event in each phase
//     (the publish's own cost included, the same in both modes, and the
//     bench's /metrics requests between rounds: about one a round).
// Usage: node bench/client-many.js [N] [ROUNDS] [BURSTS]   (GE_TEST_REDIS_PORT: a Redis to use;
//        BENCH_MODES=multi,per-channel: the modes to run, in that order)
const fs = require('node:fs');
const http = require('node:http');
const h = require('../test/lib/client-harness');

const N = Number(process.argv[2] || 1000);
const ROUNDS = Number(process.argv[3] || 100);
const BURSTS = Number(process.argv[4] || 5);
const TICK = 1 / 100; // seconds per clock tick (getconf CLK_TCK: 100 on Linux)

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
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK; // utime, stime
}
const pct = (a, p) => { const s = a.slice().sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

async function run(mode, redisPort) {
  const server = await h.startServer({ redisPort, env: { POLL_TIMEOUT: '30000' } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const post = (path, body) => new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port: server.port, path, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error('HTTP ' + res.statusCode))));
    });
    req.on('error', reject);
    req.end(data);
  });
  const waiting = async () => {
    const text = await new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port: server.port, path: '/metrics', agent }, (res) => {
      let t = ''; res.on('data', (d) => { t += d; }); res.on('end', () => resolve(t));
    }).on('error', reject));
    return Number(/^ganomede_events_longpolls_waiting (\d+)/m.exec(text)[1]);
  };
  const until = async (fn, what, ms = 60000) => {
    const end = Date.now() + ms;
    while (!(await fn())) { if (Date.now() > end) throw new Error('timed out: ' + what); await h.sleep(10); }
  };

  const client = new h.Client(h.unique('many'), { secret: server.secret, hostname: '127.0.0.1', port: server.port,
    pollPerChannel: mode === 'per-channel' });
  client.on('error', (e) => console.error(mode, 'error', e.message));
  const channels = Array.from({ length: N }, (_, i) => h.unique('bench-many-' + i));
  const sentAt = new Map(); // "channel/type" -> hrtime ms
  const lat = [];
  let delivered = 0;
  for (const ch of channels) {
    client.on(ch, (e) => {
      const t0 = sentAt.get(ch + '/' + e.type);
      if (t0 !== undefined) lat.push(performance.now() - t0);
      delivered++;
    });
  }
  await until(async () => await waiting() >= N, 'every channel waiting');
  await h.sleep(500);
  const connections = establishedAt(server.port) - 1; // the bench's own /metrics connection
  const rss = rssKiB(server.proc.pid);

  // One event among the N channels.
  let cpu0 = cpuSeconds(server.proc.pid);
  for (let r = 0; r < ROUNDS; r++) {
    await h.sleep(20); // the next poll sent and parked (its waiters alone: exactly N)
    await until(async () => await waiting() === N, 'parked again');
    const ch = channels[Math.floor(Math.random() * N)];
    const before = delivered;
    sentAt.set(ch + '/one' + r, performance.now());
    await post('/events/v1/events', { secret: server.secret, clientId: 'pub', channel: ch, from: 'bench', type: 'one' + r });
    await until(() => delivered > before, 'the event');
  }
  const oneCpu = (cpuSeconds(server.proc.pid) - cpu0) / ROUNDS;
  const one = lat.splice(0);

  // Bursts: one event on every channel.
  cpu0 = cpuSeconds(server.proc.pid);
  for (let b = 0; b < BURSTS; b++) {
    await h.sleep(20);
    await until(async () => await waiting() === N, 'parked again');
    const before = delivered;
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < N) {
        const ch = channels[next++];
        sentAt.set(ch + '/burst' + b, performance.now());
        await post('/events/v1/events', { secret: server.secret, clientId: 'pub', channel: ch, from: 'bench', type: 'burst' + b });
      }
    }));
    await until(() => delivered >= before + N, 'the burst');
  }
  const burstCpu = (cpuSeconds(server.proc.pid) - cpu0) / (BURSTS * N);
  const burst = lat.splice(0);
  const rssAfter = rssKiB(server.proc.pid);
  client.close();
  agent.destroy();
  await server.stop();
  return { mode, connections, rss, rssAfter, one, oneCpu, burst, burstCpu };
}

(async () => {
  const redis = process.env.GE_TEST_REDIS_PORT ? null : await h.startRedis();
  const redisPort = redis ? redis.port : Number(process.env.GE_TEST_REDIS_PORT);
  const rows = [];
  const modes = process.env.BENCH_MODES ? process.env.BENCH_MODES.split(',') : ['per-channel', 'multi'];
  for (const mode of modes) rows.push(await run(mode, redisPort));
  console.log(`One Client on ${N} channels; ${ROUNDS} single events, ${BURSTS} bursts of ${N} (one event per channel)`);
  console.log('mode         conns  RSS parked  RSS after  one: p50    p99   CPU/event  burst: p50     p99   CPU/event');
  for (const r of rows) {
    const f = (x) => x.toFixed(2).padStart(7);
    console.log(`${r.mode.padEnd(12)} ${String(r.connections).padStart(5)} ${String(r.rss).padStart(8)} KiB ${String(r.rssAfter).padStart(7)} KiB`
      + `  ${f(pct(r.one, 0.5))} ${f(pct(r.one, 0.99))} ms ${(r.oneCpu * 1e3).toFixed(3).padStart(7)} ms`
      + `  ${f(pct(r.burst, 0.5))} ${f(pct(r.burst, 0.99))} ms ${(r.burstCpu * 1e6).toFixed(1).padStart(7)} us`);
  }
  if (redis) await redis.stop();
})().catch((e) => { console.error(e); process.exit(1); });
