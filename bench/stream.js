#!/usr/bin/env node
// The event stream (GET /events/v1/stream) measured on 127.0.0.1 (Node 20,
// no npm dependencies). Starts its own redis-server and daemon (out/ or
// GE_BUILD), kills them on exit.
//
//   node bench/stream.js [--seconds 5] [--streams 10000] [--samples 500]
//
// 1. throughput: publishers (8 keep-alive connections) post as fast as they
//    can for --seconds while one stream on that channel reads; events/s
//    received on the stream, and the daemon's CPU (utime+stime) per event,
//    against the same publishing with no stream open (the difference is
//    the stream's own cost per event);
//    then a new stream from id 0 over those events (catch-up: the stream's
//    own ceiling, the client's parsing included);
// 2. latency: --samples single publishes, one at a time, timed from just
//    before the POST is written to the event's arrival on the stream
//    (p50/p99/max);
// 3. memory: --streams streams opened on raw sockets (a channel each, 100
//    channels shared), the daemon's VmRSS before and after, per stream.
// Prints one JSON line per part.
'use strict';
const http = require('node:http');
const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const SECONDS = +(args.seconds || 5);
const STREAMS = +(args.streams || 10000);
const SAMPLES = +(args.samples || 500);
const ROOT = path.resolve(__dirname, '..');
const DAEMON = path.join(ROOT, process.env.GE_BUILD || 'out', 'ganomede-events-server');
const SECRET = 'bench-secret';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;
const procs = [];
process.on('exit', () => { for (const p of procs) try { process.kill(-p.pid, 'SIGKILL'); } catch (_) { /* gone */ } });
process.on('SIGINT', () => process.exit(130));

const freePort = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const waitPort = async (port) => {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
    if (ok) return;
    await sleep(50);
  }
  throw new Error('port ' + port + ' never opened');
};
const cpuMs = (pid) => {
  const f = fs.readFileSync('/proc/' + pid + '/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 1000 / 100; // utime + stime, USER_HZ 100
};
const rss = (pid) => Number(fs.readFileSync('/proc/' + pid + '/status', 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
const pct = (a, p) => { const s = a.slice().sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
let PORT;
function publish(channel, n) {
  const body = JSON.stringify({ secret: SECRET, clientId: 'bench', channel, from: 'bench', type: 't', data: { n } });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, method: 'POST', path: '/events/v1/events', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error('publish ' + res.statusCode))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// A stream read with Node's http; onEvent(json) per event.
function stream(channel, onEvent) {
  return new Promise((resolve, reject) => {
    const q = new URLSearchParams({ clientId: 'bench-' + channel, channel, lastEventId: '0' });
    const req = http.get({ host: '127.0.0.1', port: PORT, path: '/events/v1/stream?' + q, headers: { Authorization: 'Bearer ' + SECRET } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of block.split('\n')) if (line.startsWith('data: ')) onEvent(JSON.parse(line.slice(6)));
        }
      });
      resolve(req);
    });
    req.on('error', reject);
  });
}

async function pump(channel, ms) {
  let n = 0;
  const end = now() + ms;
  await Promise.all(Array.from({ length: 8 }, async () => { while (now() < end) await publish(channel, n++); }));
  return n;
}

async function main() {
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { detached: true, stdio: 'ignore' });
  procs.push(redis);
  await waitPort(redisPort);
  PORT = await freePort();
  const d = spawn(DAEMON, [], {
    detached: true, stdio: ['ignore', 'ignore', 'inherit'],
    env: { PATH: process.env.PATH, API_SECRET: SECRET, HOST: '127.0.0.1', PORT: String(PORT), LOG_LEVEL: 'WARN',
      REDIS_EVENTS_PORT_6379_TCP_ADDR: '127.0.0.1', REDIS_EVENTS_PORT_6379_TCP_PORT: String(redisPort) },
  });
  procs.push(d);
  await waitPort(PORT);
  await sleep(300);

  // 1. throughput
  const base0 = cpuMs(d.pid);
  const nBase = await pump('bench-none', SECONDS * 1000);
  const baseCpu = (cpuMs(d.pid) - base0) / nBase;
  let got = 0;
  const sreq = await stream('bench-one', () => { got++; });
  await sleep(200);
  const c0 = cpuMs(d.pid);
  const t0 = now();
  const nPub = await pump('bench-one', SECONDS * 1000);
  while (got < nPub && now() - t0 < SECONDS * 1000 + 10000) await sleep(10);
  const secs = (now() - t0) / 1000;
  const withCpu = (cpuMs(d.pid) - c0) / nPub;
  console.log(JSON.stringify({ part: 'throughput', published: nPub, received: got, seconds: +secs.toFixed(2),
    events_per_s: Math.round(got / secs), daemon_cpu_us_per_event: +(withCpu * 1000).toFixed(1),
    daemon_cpu_us_per_publish_without_stream: +(baseCpu * 1000).toFixed(1),
    stream_cpu_us_per_event: +((withCpu - baseCpu) * 1000).toFixed(1) }));
  sreq.destroy();

  // 1b. catch-up: a new stream from id 0 over the events just published
  // (the stream's own ceiling: reads of 100 events, no publish under way)
  let caught = 0;
  const k0 = cpuMs(d.pid);
  const tc = now();
  const creq = await stream('bench-one', () => { caught++; });
  while (caught < nPub && now() - tc < 60000) await sleep(5);
  const csecs = (now() - tc) / 1000;
  console.log(JSON.stringify({ part: 'catch-up', events: caught, seconds: +csecs.toFixed(2),
    events_per_s: Math.round(caught / csecs), daemon_cpu_us_per_event: +((cpuMs(d.pid) - k0) * 1000 / caught).toFixed(2) }));
  creq.destroy();

  // 2. latency
  const lat = [];
  let want = null;
  const lreq = await stream('bench-lat', (e) => { if (want && e.data.n === want.n) { lat.push(now() - want.t); want.done(); } });
  await sleep(200);
  for (let i = 0; i < SAMPLES; i++) {
    await new Promise((done) => { want = { n: i, t: now(), done }; publish('bench-lat', i).catch(done); });
    await sleep(2);
  }
  lreq.destroy();
  console.log(JSON.stringify({ part: 'latency', samples: lat.length, p50_ms: +pct(lat, 0.5).toFixed(3),
    p99_ms: +pct(lat, 0.99).toFixed(3), max_ms: +Math.max(...lat).toFixed(3) }));

  // 3. memory
  await sleep(300);
  const r0 = rss(d.pid);
  const socks = [];
  let headsIn = 0;
  for (let i = 0; i < STREAMS; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, STREAMS - i) }, (_, k) => new Promise((resolve) => {
      const s = net.connect(PORT, '127.0.0.1', () => {
        const q = new URLSearchParams({ secret: SECRET, clientId: 'm' + (i + k), channel: 'bench-mem-' + ((i + k) % 100) });
        s.write('GET /events/v1/stream?' + q + ' HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      s.once('data', () => { headsIn++; resolve(); });
      s.on('error', resolve);
      socks.push(s);
    })));
  }
  await sleep(1000);
  const r1 = rss(d.pid);
  console.log(JSON.stringify({ part: 'memory', streams: headsIn, rss_before_kib: r0, rss_after_kib: r1,
    kib_per_stream: +((r1 - r0) / Math.max(1, headsIn)).toFixed(2) }));
  for (const s of socks) s.destroy();
  await sleep(500);
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
