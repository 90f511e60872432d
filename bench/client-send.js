'use strict';
// Benchmark: one Client with many concurrent sends. Target: >= 10,000 sends/s.
// Usage: node bench/client-send.js [total=20000] [concurrency=64]
const t = require('../test/lib/client-harness');

const TOTAL = Number(process.argv[2] || 20000);
const CONCURRENCY = Number(process.argv[3] || 64);

(async () => {
  const redis = process.env.GE_TEST_REDIS_PORT ? null : await t.startRedis();
  const redisPort = redis ? redis.port : Number(process.env.GE_TEST_REDIS_PORT);
  const server = await t.startServer({ redisPort });
  const client = new t.Client(t.unique('bench'), { secret: server.secret, hostname: '127.0.0.1', port: server.port });
  const channel = t.unique('bench-send');
  let started = 0, done = 0, errors = 0;
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => {
    const next = () => {
      if (started >= TOTAL) return;
      const i = started++;
      client.send(channel, { from: 'bench/v1', type: 'send', data: { i } }, (err) => {
        if (err) errors++;
        if (++done === TOTAL) resolve();
        else next();
      });
    };
    for (let k = 0; k < CONCURRENCY; k++) next();
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = TOTAL / secs;
  const latest = await t.cb2p((cb) => client.getLatestEvents(channel, 1, cb));
  client.close();
  console.log(`client-send: ${TOTAL} sends (${CONCURRENCY} concurrent) in ${secs.toFixed(3)} s = ${Math.round(rate)} sends/s, ` +
    `${errors} errors, last id ${latest[0] && latest[0].id} target >= 10000: ${rate >= 10000 && !errors ? 'MET' : 'NOT MET'}`);
  await server.stop();
  if (redis) await redis.stop();
})().catch((err) => { console.error(err); process.exit(1); });
