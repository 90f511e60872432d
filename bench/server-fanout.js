#!/usr/bin/env node
// Fan-out and parked-memory probe for ganomede-events-server (Node 20, no npm
// dependencies). Used by bench/server.sh.
//
//   node bench/server-fanout.js --port P --redis-port R --pid DAEMON_PID \
//        --secret S --channel C --waiters 1000
//
// 1. publishes one event on C to learn the last id;
// 2. opens N raw TCP connections (a few hundred connecting at a time) and
//    writes on each `GET /events/v1/events?...&clientId=fan<i>&channel=C&after=<id>`
//    so every request parks (long-poll) in the daemon;
// 3. waits until the daemon has them all: Redis holds N keys
//    `last-fetched:fan*:C` (the GET stores its ack before reading and parking),
//    `PUBSUB NUMSUB C` is >= 1, and the daemon's VmRSS has stopped moving;
// 4. reads the daemon's VmRSS / open fds (parked figure), then sends ONE
//    POST on C and records, per waiter, the time from just before the POST
//    is written to the moment that waiter's full HTTP answer is in;
// 5. prints one JSON line with the counts and p50/p90/p99/max in ms.
'use strict';
const net = require('net');
const fs = require('fs');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const HOST = args.host || '127.0.0.1';
const PORT = +args.port;
const REDIS_PORT = +args['redis-port'];
const PID = args.pid ? +args.pid : 0;
const SECRET = args.secret || 'bench-secret';
const CHANNEL = args.channel || 'bench-fan';
const N = +(args.waiters || 1000);
const BATCH = +(args.batch || 500);
const PARK_TIMEOUT = +(args['park-timeout-ms'] || 60000);
const ANSWER_TIMEOUT = +(args['answer-timeout-ms'] || 15000);

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssKb() {
  if (!PID) return null;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${PID}/status`, 'utf8'));
    return m ? +m[1] : null;
  } catch (e) { return null; }
}
function fdCount() {
  if (!PID) return null;
  try { return fs.readdirSync(`/proc/${PID}/fd`).length; } catch (e) { return null; }
}

// ---- minimal HTTP/1.1 response reader (Content-Length or chunked) ----
function parseResponse(buf) {
  const he = buf.indexOf('\r\n\r\n');
  if (he < 0) return null;
  const head = buf.subarray(0, he).toString('latin1');
  const status = +head.split(' ')[1];
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const body = buf.subarray(he + 4);
  if (cl) {
    if (body.length < +cl[1]) return null;
    return { status, body: body.subarray(0, +cl[1]).toString('utf8') };
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    if (!body.toString('latin1').endsWith('0\r\n\r\n')) return null;
    return { status, body: body.toString('utf8') };
  }
  return { status, body: body.toString('utf8') };
}

// One request on a fresh raw connection; resolves {status, body, ms}.
function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const s = net.connect(PORT, HOST);
    let buf = Buffer.alloc(0);
    let t0;
    s.setNoDelay(true);
    s.on('connect', () => {
      let req = `${method} ${path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nConnection: close\r\n`;
      if (body) req += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
      req += '\r\n' + (body || '');
      t0 = now();
      s.write(req);
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parseResponse(buf);
      if (r) { r.ms = now() - t0; r.t0 = t0; s.destroy(); resolve(r); }
    });
    s.on('error', reject);
  });
}

// ---- tiny RESP client for the readiness checks ----
function redisCmd(argv) {
  return new Promise((resolve, reject) => {
    const s = net.connect(REDIS_PORT, '127.0.0.1');
    let out = `*${argv.length}\r\n`;
    for (const a of argv) out += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
    let buf = '';
    s.on('connect', () => s.write(out));
    s.on('data', (d) => {
      buf += d.toString();
      // the replies used here: ":n\r\n" or "*2\r\n$len\r\nchan\r\n:n\r\n"
      let m;
      if ((m = /^:(-?\d+)\r\n$/.exec(buf))) { s.destroy(); resolve(+m[1]); }
      else if ((m = /^\*2\r\n\$\d+\r\n[^\r]*\r\n:(\d+)\r\n$/.exec(buf))) { s.destroy(); resolve(+m[1]); }
      else if (buf.startsWith('-')) { s.destroy(); reject(new Error(buf.trim())); }
    });
    s.on('error', reject);
  });
}
const countAcks = () => redisCmd(['EVAL', "return #redis.call('keys', ARGV[1])", 0, `last-fetched:fan*:${CHANNEL}`]);
const numsub = () => redisCmd(['PUBSUB', 'NUMSUB', CHANNEL]);

async function main() {
  const pub = (n) => JSON.stringify({ secret: SECRET, clientId: 'bench', channel: CHANNEL, from: 'bench', type: 't', data: { n } });
  const first = await request('POST', '/events/v1/events', pub(0));
  if (first.status !== 200) throw new Error(`setup POST answered ${first.status}: ${first.body}`);
  const after = JSON.parse(first.body).id;
  const rssIdle = rssKb();

  const w = []; // per waiter: {sock, buf, done, t, status, body}
  let connected = 0, errors = 0, premature = 0, answered = 0, ok = 0;
  let published = false, tPost = 0, expectId = null;
  let firstError = null;
  const tConnect0 = now();

  function open(i) {
    return new Promise((resolve) => {
      const st = { buf: Buffer.alloc(0), done: false };
      w[i] = st;
      const s = net.connect(PORT, HOST);
      st.sock = s;
      s.setNoDelay(true);
      s.on('connect', () => {
        connected++;
        s.write(`GET /events/v1/events?secret=${encodeURIComponent(SECRET)}&clientId=fan${i}` +
                `&channel=${encodeURIComponent(CHANNEL)}&after=${after} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\n\r\n`);
        resolve();
      });
      s.on('data', (d) => {
        if (st.done) return;
        st.buf = st.buf.length ? Buffer.concat([st.buf, d]) : d;
        const r = parseResponse(st.buf);
        if (!r) return;
        st.done = true;
        st.t = now();
        st.status = r.status;
        st.body = r.body;
        if (!published) premature++;
      });
      s.on('error', (e) => { errors++; if (!firstError) firstError = e.code || e.message; resolve(); });
      s.on('close', () => {});
    });
  }
  for (let i = 0; i < N; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) batch.push(open(j));
    await Promise.all(batch);
  }
  const connectMs = now() - tConnect0;

  // Wait until the daemon has parked them all.
  const parkDeadline = now() + PARK_TIMEOUT;
  let acks = 0, subs = 0;
  for (;;) {
    acks = await countAcks();
    subs = await numsub();
    if ((acks >= connected && subs >= 1) || now() > parkDeadline) break;
    await sleep(100);
  }
  // ... and its memory has settled (answers to the acks' reads are in).
  let prev = -1, stable = 0;
  await sleep(300);
  while (stable < 3 && now() < parkDeadline) {
    const r = rssKb();
    stable = r === prev ? stable + 1 : 0;
    prev = r;
    await sleep(200);
  }
  const parkMs = now() - tConnect0;
  const rssParked = rssKb();
  const fds = fdCount();
  let hwm = null;
  if (PID) { try { hwm = +/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${PID}/status`, 'utf8'))[1]; } catch (e) { /* gone */ } }

  // One publish; time every waiter's answer from just before the POST.
  published = true;
  const post = await request('POST', '/events/v1/events', pub(1));
  tPost = post.t0;
  if (post.status === 200) expectId = JSON.parse(post.body).id;
  // answers that arrived before the POST's own reply was parsed were
  // counted with expectId still null: re-check them now.
  const waitDeadline = now() + ANSWER_TIMEOUT;
  for (;;) {
    answered = 0;
    for (const st of w) if (st && st.done && st.t >= tPost) answered++;
    if (answered >= connected - premature || now() > waitDeadline) break;
    await sleep(20);
  }
  const lat = [];
  for (const st of w) {
    if (!st || !st.done || st.t < tPost) continue;
    lat.push(st.t - tPost);
    if (st.status === 200 && st.body.includes(`"id":${expectId}`)) ok++;
  }
  lat.sort((a, b) => a - b);
  const pct = (q) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(q * lat.length) - 1)] : null);
  const r2 = (x) => (x == null ? null : Math.round(x * 100) / 100);
  const sample = w.find((st) => st && st.done && st.status !== 200);
  const result = {
    waiters: N, connected, errors, firstError, premature, acks, numsub: subs,
    answered: lat.length, ok,
    min_ms: r2(lat[0]), p50_ms: r2(pct(0.5)), p90_ms: r2(pct(0.9)), p99_ms: r2(pct(0.99)), max_ms: r2(lat[lat.length - 1]),
    post_ms: r2(post.ms), post_status: post.status,
    rss_idle_kb: rssIdle, rss_parked_kb: rssParked, hwm_kb: hwm, fds_parked: fds,
    connect_ms: Math.round(connectMs), park_ms: Math.round(parkMs),
    bad_answer: sample ? `${sample.status} ${String(sample.body).slice(0, 200)}` : undefined,
  };
  for (const st of w) if (st && st.sock) st.sock.destroy();
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

main().catch((e) => { process.stdout.write(JSON.stringify({ error: String(e && e.stack || e) }) + '\n'); process.exit(1); });
