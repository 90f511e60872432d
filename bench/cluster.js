'use strict';
// Cluster mode against single-Redis mode in the same run: the daemon's
// POST (one channel, and 300 channels spread over every master) and
// GET100 (100 events at once) with wrk -t2 -c50, on one redis-server and
// on a local Redis Cluster of 3 masters (no replicas), median of --reps.
//
//   node bench/cluster.js [--duration 5s] [--reps 3]
//
// Everything it starts dies with it (test/lib/procs spawnOwned). On this
// 2-core machine the cluster's three masters share the cores with the
// daemon and wrk: the figure is the cost of cluster mode, not its scaling.
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const h = require('../test/lib/harness');
const { startRedisCluster } = require('../test/lib/redis-cluster');

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const DURATION = arg('--duration', '5s');
const REPS = Number(arg('--reps', '3'));
const median = (a) => a.slice().sort((x, y) => x - y)[(a.length - 1) >> 1];

function wrk(url, script, env) {
  const args = ['-t2', '-c50', '-d' + DURATION];
  if (script) args.push('-s', path.join(__dirname, script));
  const out = execFileSync('wrk', args.concat([url]), { env: Object.assign({}, process.env, env), encoding: 'utf8' });
  const rps = Number((/Requests\/sec:\s+([\d.]+)/.exec(out) || [])[1]);
  const non2xx = Number((/Non-2xx or 3xx responses: (\d+)/.exec(out) || [0, 0])[1]);
  if (non2xx) throw new Error('wrk saw ' + non2xx + ' non-2xx answers: ' + out);
  return rps;
}

async function measure(label, env) {
  const s = await h.startServer({ env: Object.assign({ LOG_LEVEL: 'ERROR', POLL_TIMEOUT: '60000' }, env) });
  const env1 = { BENCH_SECRET: s.secret, BENCH_CHANNEL: 'bench-post' };
  for (let i = 0; i < 100; i++) {
    await h.request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'b', channel: 'bench-get', from: 'b', type: 't', data: { n: i } });
  }
  const get100 = s.url + '/events/v1/events?secret=' + s.secret + '&clientId=b&channel=bench-get&after=0&limit=100';
  const r = { post: [], spread: [], get100: [] };
  for (let i = 0; i < REPS; i++) {
    r.post.push(wrk(s.url, 'server-post.lua', env1));
    r.spread.push(wrk(s.url, 'server-post-spread.lua', env1));
    r.get100.push(wrk(get100, null, env1));
  }
  await s.stop();
  const m = { post: median(r.post), spread: median(r.spread), get100: median(r.get100) };
  console.log(label + ': POST one channel ' + m.post.toFixed(0) + '/s, POST 300 channels ' + m.spread.toFixed(0) +
    '/s, GET100 ' + m.get100.toFixed(0) + '/s (median of ' + REPS + ', wrk -t2 -c50 -d' + DURATION + ')');
  return m;
}

(async () => {
  const redis = await h.startRedis();
  const single = await measure('single Redis', { REDIS_EVENTS_PORT_6379_TCP_PORT: String(redis.port) });
  await redis.stop();
  const cluster = await startRedisCluster({ masters: 3, replicas: 0 });
  const cl = await measure('Redis Cluster, 3 masters', { REDIS_URL: 'redis-cluster://' + cluster.seeds() });
  await cluster.stop();
  const pct = (a, b) => ((a / b - 1) * 100).toFixed(0) + '%';
  console.log('cluster against single: POST ' + pct(cl.post, single.post) + ', POST 300 channels ' +
    pct(cl.spread, single.spread) + ', GET100 ' + pct(cl.get100, single.get100));
})().catch((e) => { console.error(e); process.exit(1); });
