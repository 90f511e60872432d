'use strict';
// Fault drills: Redis killed under publish load, SIGTERM under load.
const tap = require('tap');
const { REDIS_PORT, startServer, startRedis, request, redisCommand, unique, sleep, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');

// Publish in a loop until stop() says so; record every answer.
function publisher(s, channel, log) {
  let running = true;
  const done = (async () => {
    while (running) {
      const t0 = Date.now();
      try {
        const r = await request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'drill', channel, from: 'drill', type: 't' });
        log.push({ status: r.status, ms: Date.now() - t0, body: r.body, json: r.json });
        if (r.status !== 200) await sleep(20);
      } catch (e) {
        log.push({ status: 0, ms: Date.now() - t0, error: e.cause ? e.cause.code : e.message });
        await sleep(20);
      }
    }
  })();
  return { stop: () => { running = false; return done; } };
}

tap.test('Redis SIGKILLed under publish load: nothing acknowledged is lost, quick 503s, recovery within 5 s', T, async (t) => {
  const redis = await startRedis({ appendonly: true });
  const s = await startServer({ redisPort: redis.port, env: { POLL_TIMEOUT: '30000' } });
  let back;
  try {
    const channels = [unique('d1'), unique('d2'), unique('d3')];
    const logs = [[], [], [], [], [], []];
    const pubs = logs.map((log, i) => publisher(s, channels[i % 3], log));
    const waiting = fetch(s.url + '/events/v1/events?' + q({ secret: s.secret, clientId: 'w', channel: unique('quiet'), after: 0 }))
      .then((r) => r.status, () => 0);
    await sleep(700);
    await redis.stop('SIGKILL');
    t.equal(await waiting, 503, 'the waiting long-poll is answered at the loss');
    await sleep(1000);
    back = await startRedis({ port: redis.port, dir: redis.dir, appendonly: true });
    const backAt = Date.now();
    // Publishing works again within 5 s.
    let firstOk = 0;
    while (!firstOk && Date.now() - backAt < limit(5000)) {
      await sleep(25);
      const t = (await request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'drill', channel: unique('probe'), from: 'd', type: 't' })).status;
      if (t === 200) firstOk = Date.now();
    }
    t.ok(firstOk, 'publishes again within 5 s of Redis returning');
    await sleep(300);
    await Promise.all(pubs.map((p) => p.stop()));
    t.equal(s.proc.exitCode, null, 'the daemon stayed up');

    const all = logs.flat();
    const slow = all.filter((x) => x.status !== 200 && x.ms > limit(3000));
    t.equal(slow.length, 0, 'no failed answer took more than 3 s');
    t.ok(all.some((x) => x.status === 503), 'some answers during the outage were 503');
    t.ok(all.every((x) => [200, 503].includes(x.status)), JSON.stringify(all.filter((x) => ![200, 503].includes(x.status)).slice(0, 3)));
    // Every acknowledged event is readable, ids unique and gap-free per channel.
    for (let i = 0; i < logs.length; i++) {
      const ch = channels[i % 3];
      for (const x of logs[i].filter((e) => e.status === 200)) {
        t.equal(await redisCommand(back.port, 'GET', ch + ':' + x.json.id), x.body, 'acknowledged event ' + ch + ':' + x.json.id + ' survives');
      }
    }
    for (const ch of channels) {
      const last = Number(await redisCommand(back.port, 'GET', 'indices:' + ch));
      const members = await redisCommand(back.port, 'ZRANGE', ch + ':keys', 0, -1);
      t.equal(members.length, last, 'no gap in ' + ch);
      t.strictSame(members, Array.from({ length: last }, (_, k) => ch + ':' + (k + 1)));
    }
    for (let c = 0; c < channels.length; c++) {
      const ids = logs.filter((_, i) => i % 3 === c).flat().filter((x) => x.status === 200).map((x) => x.json.id);
      t.equal(new Set(ids).size, ids.length, 'ids acknowledged once each');
    }
  } finally {
    await s.stop();
    if (back) await back.stop();
    await redis.stop();
  }
});

tap.test('SIGTERM under load: in-flight requests answered, long-polls answered, exit 0 within 5 s', T, async (t) => {
  const s = await startServer({ env: { POLL_TIMEOUT: '30000' } });
  const ch = unique('term');
  const logs = [[], [], [], []];
  const pubs = logs.map((log) => publisher(s, ch, log));
  const polls = [];
  for (let i = 0; i < 10; i++) {
    polls.push(fetch(s.url + '/events/v1/events?' + q({ secret: s.secret, clientId: 'p' + i, channel: unique('idle'), after: 0 }))
      .then(async (r) => ({ status: r.status, body: await r.text() }), (e) => ({ status: 0, error: String(e) })));
  }
  await sleep(500);
  const t0 = Date.now();
  s.proc.kill('SIGTERM');
  const exit = await s.exited;
  const took = Date.now() - t0;
  await Promise.all(pubs.map((p) => p.stop()));
  t.equal(exit.code, 0);
  t.ok(took < limit(5000), 'exited in ' + took + ' ms');
  const answered = await Promise.all(polls);
  t.ok(answered.every((r) => r.status === 200 && r.body === '[]'), JSON.stringify(answered.slice(0, 2)));
  // Every publish that got an answer got 200 or 503, and every 200 is stored.
  const ok = logs.flat().filter((x) => x.status === 200);
  t.ok(ok.length > 10, 'the load was real');
  t.ok(logs.flat().every((x) => x.status === 200 || x.status === 503 || x.status === 0));
  for (const x of ok) t.equal(await redisCommand(REDIS_PORT, 'GET', ch + ':' + x.json.id), x.body);
});
