'use strict';
// The cluster mode's publishes batched per slot against a build without
// it, in the same run and on the same local Redis Cluster (3 masters, no
// replicas), with one redis-server as the yardstick: the daemon's POST on
// one channel and over 300 channels (wrk -t2 -c50, bench/server-post.lua
// and bench/server-post-spread.lua), median of --reps, the two builds
// taking turns, every master flushed before each run.
//
//   make BUILD=out-base all   (from the commit to compare with)
//   node bench/cluster-batch.js [--base out-base] [--build out] [--duration 5s] [--reps 3] [--min-replicas N]
//
// --min-replicas N: the cluster has one replica per master and both
// builds run with PUBLISH_MIN_REPLICAS=N (a WAIT after each call, the
// confirmed id raised after it); the after build also runs without it,
// in the same cluster, as the yardstick.
//
// Everything it starts dies with it (test/lib/procs spawnOwned). On this
// 2-core machine the three masters share the cores with the daemon and
// wrk: the figures compare builds, they are not the cluster's scaling.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const DURATION = arg('--duration', '5s');
const REPS = Number(arg('--reps', '3'));
const MIN_REPLICAS = Number(arg('--min-replicas', '0'));
const BUILDS = { before: arg('--base', 'out-base'), after: arg('--build', 'out') };
const median = (a) => a.slice().sort((x, y) => x - y)[(a.length - 1) >> 1];

// The harness reads GE_BUILD when loaded: one copy of it per build.
function harness(build) {
  const file = require.resolve('../test/lib/harness');
  delete require.cache[file];
  process.env.GE_BUILD = build;
  const h = require(file);
  delete require.cache[file];
  return h;
}

function wrk(url, script, env) {
  const out = execFileSync('wrk', ['-t2', '-c50', '-d' + DURATION, '-s', path.join(__dirname, script), url],
    { env: Object.assign({}, process.env, env), encoding: 'utf8' });
  const rps = Number((/Requests\/sec:\s+([\d.]+)/.exec(out) || [])[1]);
  const non2xx = Number((/Non-2xx or 3xx responses: (\d+)/.exec(out) || [0, 0])[1]);
  if (non2xx) throw new Error('wrk saw ' + non2xx + ' non-2xx answers: ' + out);
  return rps;
}

async function run(h, env, into) {
  const s = await h.startServer({ env: Object.assign({ LOG_LEVEL: 'ERROR', POLL_TIMEOUT: '60000' }, env) });
  const benv = { BENCH_SECRET: s.secret, BENCH_CHANNEL: 'bench-post' };
  into.post.push(wrk(s.url, 'server-post.lua', benv));
  into.spread.push(wrk(s.url, 'server-post-spread.lua', benv));
  await s.stop();
}

const line = (label, r) => label + ': POST one channel ' + median(r.post).toFixed(0) + '/s, POST 300 channels ' +
  median(r.spread).toFixed(0) + '/s (median of ' + r.post.length + ', wrk -t2 -c50 -d' + DURATION + ')';

(async () => {
  const hs = { before: harness(BUILDS.before), after: harness(BUILDS.after) };
  const { startRedisCluster } = require('../test/lib/redis-cluster');
  const single = { post: [], spread: [] };
  const redis = await hs.after.startRedis();
  for (let i = 0; i < REPS; i++) {
    await hs.after.redisCommand(redis.port, 'FLUSHALL');
    await run(hs.after, { REDIS_EVENTS_PORT_6379_TCP_PORT: String(redis.port) }, single);
  }
  await redis.stop();
  const cluster = await startRedisCluster({ masters: 3, replicas: MIN_REPLICAS ? 1 : 0 });
  const r = { before: { post: [], spread: [] }, after: { post: [], spread: [] }, none: { post: [], spread: [] } };
  const env = { REDIS_URL: 'redis-cluster://' + cluster.seeds() };
  if (MIN_REPLICAS) env.PUBLISH_MIN_REPLICAS = String(MIN_REPLICAS);
  for (let i = 0; i < REPS; i++) {
    for (const b of MIN_REPLICAS ? ['before', 'after', 'none'] : ['before', 'after']) {
      for (const n of cluster.nodes) await hs.after.redisCommand(n.port, 'FLUSHALL').catch(() => {}); // a replica refuses it
      await run(hs[b === 'none' ? 'after' : b], b === 'none' ? { REDIS_URL: env.REDIS_URL } : env, r[b]);
    }
  }
  await cluster.stop();
  if (MIN_REPLICAS) {
    console.log('with PUBLISH_MIN_REPLICAS=' + MIN_REPLICAS + ' (1 replica per master), except "none":');
    console.log(line('Redis Cluster, none: the after build without PUBLISH_MIN_REPLICAS', r.none));
  }
  console.log(line('single Redis (' + BUILDS.after + ')', single));
  console.log(line('Redis Cluster, 3 masters, before (' + BUILDS.before + ')', r.before));
  console.log(line('Redis Cluster, 3 masters, after (' + BUILDS.after + ')', r.after));
  const pct = (a, b) => ((median(a) / median(b) - 1) * 100).toFixed(0) + '%';
  console.log('after against before: POST ' + pct(r.after.post, r.before.post) + ', POST 300 channels ' +
    pct(r.after.spread, r.before.spread));
  if (MIN_REPLICAS) console.log('after with PUBLISH_MIN_REPLICAS against without: POST ' + pct(r.after.post, r.none.post) +
    ', POST 300 channels ' + pct(r.after.spread, r.none.spread));
  console.log('cluster against single Redis: before POST ' + pct(r.before.post, single.post) + ', 300 channels ' +
    pct(r.before.spread, single.spread) + '; after POST ' + pct(r.after.post, single.post) + ', 300 channels ' +
    pct(r.after.spread, single.spread));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
