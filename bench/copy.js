'use strict';
// `ganomede-events-server copy` speed: a single Redis filled in the
// original layout (--channels channels of --events events in all, each
// event the JSON a publish stores, ~120 bytes) copied into a local Redis
// Cluster of 3 masters (no replicas); events/s of the copy phase and of
// the comparison (from the copy's own log lines), median of --reps, a
// fresh target each time.
//
//   node bench/copy.js [--events 200000] [--channels 20] [--reps 3] [--page 1000]
//
// Everything it starts dies with it. On this 2-core machine the three
// masters, the source and the copy share the cores.
const { spawnSync } = require('node:child_process');
const h = require('../test/lib/harness');
const { startRedisCluster } = require('../test/lib/redis-cluster');

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const EVENTS = Number(arg('--events', '200000'));
const CHANNELS = Number(arg('--channels', '20'));
const REPS = Number(arg('--reps', '3'));
const PAGE = arg('--page', '1000');
const median = (a) => a.slice().sort((x, y) => x - y)[(a.length - 1) >> 1];

// The original layout, as the publish script writes it.
const FILL = `
local ch, n = ARGV[1], tonumber(ARGV[2])
for id = 1, n do
  local k = ch .. ':' .. id
  redis.call('SET', k, '{"id":' .. id .. ',"timestamp":1700000000000,"type":"MOVE","from":"bench/v1","data":{"player":"p' .. (id % 7) .. '","x":' .. id .. '}}')
  redis.call('ZADD', ch .. ':keys', id, k)
end
redis.call('SET', 'indices:' .. ch, n)
redis.call('SET', 'last-fetched:reader:' .. ch, math.floor(n / 2))
return n`;

(async () => {
  const redis = await h.startRedis();
  const cluster = await startRedisCluster({ masters: 3, replicas: 0 });
  try {
    const per = Math.ceil(EVENTS / CHANNELS);
    for (let c = 0; c < CHANNELS; c++) await h.redisCommand(redis.port, 'EVAL', FILL, 0, 'bench/ch' + c, per);
    const copy = [], verify = [];
    for (let i = 0; i < REPS; i++) {
      for (const n of cluster.nodes) await h.redisCommand(n.port, 'FLUSHALL');
      const r = spawnSync(h.DAEMON, ['copy', '--from', 'redis://127.0.0.1:' + redis.port, '--to', 'redis-cluster://' + cluster.seeds(), '--page', PAGE],
        { encoding: 'utf8', timeout: 600000, env: { PATH: process.env.PATH, LOG_LEVEL: 'INFO' } });
      if (r.status !== 0) throw new Error('copy exited ' + r.status + ': ' + r.stderr);
      const rates = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.eventsPerSecond !== undefined);
      copy.push(rates[0].eventsPerSecond);
      verify.push(rates[1].eventsPerSecond);
    }
    console.log(JSON.stringify({ events: per * CHANNELS, channels: CHANNELS, page: Number(PAGE), copyEventsPerSecond: median(copy), verifyEventsPerSecond: median(verify), copy, verify }));
  } finally {
    await cluster.stop();
    await redis.stop();
  }
})().catch((e) => { console.error(e); process.exit(1); });
