'use strict';
// Cluster mode against single-Redis mode in the same run: the daemon's
// POST (one channel, and 300 channels spread over every master) and
// GET100 (100 events at once) with wrk -t2 -c50, on one redis-server and
// on a local Redis Cluster of 3 masters (no replicas), median of --reps.
//
//   node bench/cluster.js [--duration 5s] [--reps 3]
//
// --scaling measures instead, in one run, cluster mode on 1 master and on 3
// masters (no replicas): POST over --channels channels (300) with wrk, and
// per master the share of the publishes (its publish-script calls, INFO
// commandstats) and its CPU per publish (utime+stime of the redis-server
// process, /proc/<pid>/stat); the yardstick, in each round, is
// `redis-benchmark -t set` against the 1-master cluster's node (SET/s and
// its CPU per SET), so that every figure is also a ratio to it. Medians of
// --reps rounds.
//
//   node bench/cluster.js --scaling [--duration 5s] [--reps 3] [--channels 300]
//
// Everything it starts dies with it (test/lib/procs spawnOwned). On this
// 2-core machine the cluster's three masters share the cores with the
// daemon and wrk: the figure is the cost of cluster mode, not its scaling.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../test/lib/harness');
const { startRedisCluster } = require('../test/lib/redis-cluster');

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const DURATION = arg('--duration', '5s');
const REPS = Number(arg('--reps', '3'));
const CHANNELS = Number(arg('--channels', '300'));
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

// utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat).
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
function cpuSeconds(pid) {
  const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

// Publish-script calls (EVALSHA and EVAL) a master has run.
async function scriptCalls(port) {
  const info = await h.redisCommand(port, 'INFO', 'commandstats');
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) n += Number(m[2]);
  return n;
}

// SET/s and CPU per SET (µs) of redis-benchmark -t set against one node.
function yardstick(node) {
  const n = 200000;
  const c0 = cpuSeconds(node.proc.pid);
  const out = execFileSync('redis-benchmark', ['-p', String(node.port), '-t', 'set', '-n', String(n), '-c', '50', '-q'], { encoding: 'utf8' });
  const cpu = cpuSeconds(node.proc.pid) - c0;
  const rps = Number((/SET: ([\d.]+) requests per second/.exec(out) || [])[1]);
  if (!rps) throw new Error('redis-benchmark said: ' + out);
  return { rps, cpuUs: cpu / n * 1e6 };
}

// One wrk run of POST over CHANNELS channels; per master its share and CPU.
async function postRound(s, masters) {
  for (const m of masters) await h.redisCommand(m.port, 'FLUSHALL');
  const before = [];
  for (const m of masters) before.push({ calls: await scriptCalls(m.port), cpu: cpuSeconds(m.proc.pid) });
  const daemon0 = cpuSeconds(s.proc.pid);
  const rps = wrk(s.url, 'server-post-spread.lua', { BENCH_SECRET: s.secret, BENCH_CHANNELS: String(CHANNELS) });
  const daemonCpu = cpuSeconds(s.proc.pid) - daemon0;
  const per = [];
  for (let i = 0; i < masters.length; i++) {
    const calls = await scriptCalls(masters[i].port) - before[i].calls;
    per.push({ calls, cpuUs: (cpuSeconds(masters[i].proc.pid) - before[i].cpu) / calls * 1e6 });
  }
  const total = per.reduce((a, x) => a + x.calls, 0);
  for (const x of per) x.share = x.calls / total;
  return { rps, total, per, daemonUs: daemonCpu / total * 1e6 };
}

async function scaling() {
  const setups = [];
  for (const masters of [1, 3]) {
    const cluster = await startRedisCluster({ masters, replicas: 0 });
    const s = await h.startServer({ env: { LOG_LEVEL: 'ERROR', POLL_TIMEOUT: '60000', REDIS_URL: 'redis-cluster://' + cluster.seeds() } });
    setups.push({ masters, cluster, s, rounds: [] });
  }
  const yard = [];
  for (let i = 0; i < REPS; i++) {
    yard.push(yardstick(setups[0].cluster.nodes[0]));
    for (const st of setups) st.rounds.push(await postRound(st.s, st.cluster.nodes));
    const last = setups.map((st) => st.masters + ' master(s) ' + st.rounds[i].rps.toFixed(0) + '/s, shares ' +
      st.rounds[i].per.map((x) => (x.share * 100).toFixed(1) + '%').join(' ')).join('; ');
    console.log('round ' + (i + 1) + ': redis-benchmark SET ' + yard[i].rps.toFixed(0) + '/s; ' + last);
  }
  const ySet = median(yard.map((y) => y.rps)), yCpu = median(yard.map((y) => y.cpuUs));
  console.log('yardstick: redis-benchmark -t set -c 50 against one node: ' + ySet.toFixed(0) + ' SET/s, ' + yCpu.toFixed(2) +
    ' µs CPU per SET (median of ' + REPS + ')');
  // Ratios per round (to that round's yardstick), then their median.
  const ratio = (st, f, y) => median(st.rounds.map((r, i) => f(r) / y(yard[i])));
  for (const st of setups) {
    const rps = median(st.rounds.map((r) => r.rps));
    const redisUs = (r) => r.per.reduce((a, x) => a + x.cpuUs * x.calls, 0) / r.total;
    console.log(st.masters + ' master(s), POST over ' + CHANNELS + ' channels: ' + rps.toFixed(0) + ' publishes/s = ' +
      ratio(st, (r) => r.rps, (y) => y.rps).toFixed(3) + ' x SET/s (median of ' + REPS + ', wrk -t2 -c50 -d' + DURATION +
      '); CPU per publish: the daemon ' + median(st.rounds.map((r) => r.daemonUs)).toFixed(2) + ' µs, Redis ' +
      median(st.rounds.map(redisUs)).toFixed(2) + ' µs = ' + ratio(st, redisUs, (y) => y.cpuUs).toFixed(2) + ' x per SET');
    for (let i = 0; i < st.masters; i++) {
      const share = median(st.rounds.map((r) => r.per[i].share));
      const cpu = median(st.rounds.map((r) => r.per[i].cpuUs));
      console.log('  master ' + (i + 1) + ': ' + (share * 100).toFixed(1) + '% of the publishes (even: ' + (100 / st.masters).toFixed(1) +
        '%), ' + cpu.toFixed(2) + ' µs CPU per publish = ' + ratio(st, (r) => r.per[i].cpuUs, (y) => y.cpuUs).toFixed(2) + ' x per SET');
    }
  }
  for (const st of setups) { await st.s.stop(); await st.cluster.stop(); }
}

(async () => {
  if (process.argv.includes('--scaling')) return scaling();
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
