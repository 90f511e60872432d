'use strict';
// Benchmark: one Client drains a backlog of N events (default 100,000)
// into a JS handler. Target: >= 100,000 events/s.
// Usage: node bench/client-drain.js [N] [limit]   (GE_TEST_REDIS_PORT: a Redis to use)
// The backlog is written straight into Redis in the server's layout (docs/protocol.md,
// "## Redis layout")
// so that only the drain is timed.
const net = require('node:net');
const t = require('../test/lib/client-harness');

const N = Number(process.argv[2] || 100000);
const LIMIT = process.argv[3] ? Number(process.argv[3]) : null;

function pipeline(port, commands) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let pending = commands.length, buf = '';
    s.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        if (buf[0] === '-') return reject(new Error(buf.slice(0, i)));
        buf = buf.slice(i + 2);
        if (--pending === 0) { s.end(); return resolve(); }
      }
    });
    s.on('error', reject);
    const parts = [];
    for (const args of commands) {
      parts.push('*' + args.length + '\r\n');
      for (const a of args) parts.push('$' + Buffer.byteLength(a) + '\r\n' + a + '\r\n');
    }
    s.write(parts.join(''));
  });
}

async function fillBacklog(port, channel, n) {
  const ts = Date.now();
  for (let start = 1; start <= n; start += 10000) {
    const cmds = [];
    const end = Math.min(n, start + 9999);
    const zadd = ['ZADD', channel + ':keys'];
    for (let id = start; id <= end; id++) {
      const ev = JSON.stringify({ id, timestamp: ts + id, type: 'bench', from: 'bench/v1', data: { n: id, user: 'user-' + (id % 1000) } });
      cmds.push(['SET', channel + ':' + id, ev]);
      zadd.push(String(id), channel + ':' + id);
    }
    cmds.push(zadd);
    await pipeline(port, cmds);
  }
  await pipeline(port, [['SET', 'indices:' + channel, String(n)]]);
}

(async () => {
  const redis = process.env.GE_TEST_REDIS_PORT ? null : await t.startRedis();
  const redisPort = redis ? redis.port : Number(process.env.GE_TEST_REDIS_PORT);
  const server = await t.startServer({ redisPort, env: { POLL_TIMEOUT: '1000' } });
  const channel = t.unique('bench-drain');
  await fillBacklog(redisPort, channel, N);
  const client = new t.Client(t.unique('bench'), { secret: server.secret, hostname: '127.0.0.1', port: server.port, limit: LIMIT || undefined });
  let count = 0, sum = 0, requests = 0;
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => {
    client.on('cycle', () => { requests++; });
    client.on(channel, (event) => {
      sum += event.data.n;
      if (++count === N) resolve();
    });
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  client.close();
  if (sum !== N * (N + 1) / 2) throw new Error('wrong events');
  const rate = N / secs;
  console.log(`client-drain: ${N} events in ${secs.toFixed(3)} s = ${Math.round(rate)} events/s ` +
    `(${requests} requests, limit ${LIMIT || 'server default 100'}) target >= 100000: ${rate >= 100000 ? 'MET' : 'NOT MET'}`);
  await server.stop();
  if (redis) await redis.stop();
})().catch((err) => { console.error(err); process.exit(1); });
