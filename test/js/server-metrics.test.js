'use strict';
// Watching the daemon: /metrics (Prometheus), /health, statsd.
const tap = require('tap');
const dgram = require('node:dgram');
const { startServer, startRedis, request, unique, sleep, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const metric = (text, name) => {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

tap.test('/metrics counts requests by route and status, published events and waiters', T, async (t) => {
  const s = await startServer({ env: { POLL_TIMEOUT: '5000' } });
  try {
    const ch = unique();
    for (let i = 0; i < 3; i++) {
      await request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'm', channel: ch, from: 'f', type: 't' });
    }
    await request(s.url, 'POST', '/events/v1/events', { secret: 'bad' });
    await request(s.url, 'GET', '/nowhere');
    const waiting = [0, 1].map((i) => fetch(s.url + '/events/v1/events?' + q({ secret: s.secret, clientId: 'w' + i, channel: ch, after: 3 })));
    await sleep(300);
    const r = await request(s.url, 'GET', '/metrics');
    t.equal(r.status, 200);
    t.match(r.headers.get('content-type'), /^text\/plain/);
    const body = r.body;
    t.equal(metric(body, 'ganomede_events_requests_total{route="events",status="200"}'), 3);
    t.equal(metric(body, 'ganomede_events_requests_total{route="events",status="401"}'), 1);
    t.equal(metric(body, 'ganomede_events_requests_total{route="unknown",status="404"}'), 1);
    t.equal(metric(body, 'ganomede_events_published_total'), 3);
    t.equal(metric(body, 'ganomede_events_longpolls_waiting'), 2);
    t.equal(metric(body, 'ganomede_events_channels_subscribed'), 1);
    t.equal(metric(body, 'ganomede_events_redis_up{connection="commands"}'), 1);
    t.equal(metric(body, 'ganomede_events_request_duration_seconds_count{route="events"}'), 4);
    t.match(body, /# TYPE ganomede_events_request_duration_seconds histogram/);
    await request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'm', channel: ch, from: 'f', type: 't' });
    await Promise.all(waiting);
    const after = (await request(s.url, 'GET', '/metrics')).body;
    t.equal(metric(after, 'ganomede_events_longpolls_waiting'), 0);
    t.equal(metric(after, 'ganomede_events_requests_total{route="events",status="200"}'), 6);
  } finally { await s.stop(); }
});

tap.test('/health and the redis_up gauge flip when Redis stops', T, async (t) => {
  const redis = await startRedis();
  const s = await startServer({ redisPort: redis.port });
  try {
    let h = await request(s.url, 'GET', '/health');
    t.strictSame([h.status, h.json.status], [200, 'ok']);
    await redis.stop();
    await sleep(200);
    h = await request(s.url, 'GET', '/events/v1/health');
    t.strictSame([h.status, h.json.status], [503, 'unavailable']);
    const m = (await request(s.url, 'GET', '/metrics')).body;
    t.equal(metric(m, 'ganomede_events_redis_up{connection="commands"}'), 0);
  } finally { await s.stop(); await redis.stop(); }
});

tap.test('statsd counters when STATSD_HOST is set', T, async (t) => {
  const sock = dgram.createSocket('udp4');
  const lines = [];
  sock.on('message', (msg) => lines.push(...msg.toString().split('\n')));
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const s = await startServer({ env: { STATSD_HOST: '127.0.0.1', STATSD_PORT: String(sock.address().port), STATSD_PREFIX: 'test.' } });
  try {
    await request(s.url, 'GET', '/events/v1/latest?' + q({ secret: s.secret, channel: unique() }));
    await request(s.url, 'GET', '/events/v1/latest');
    await sleep(200);
    t.ok(lines.includes('test.requests.latest.200:1|c'), lines.join(' | '));
    t.ok(lines.includes('test.requests.latest.401:1|c'));
    t.ok(lines.some((l) => /^test\.latency\.latest:[\d.]+\|ms$/.test(l)));
  } finally { await s.stop(); sock.close(); }
});

tap.test('a client leaving a long-poll is counted as 499', T, async (t) => {
  const s = await startServer({ env: { POLL_TIMEOUT: '5000' } });
  try {
    const ac = new AbortController();
    const p = fetch(s.url + '/events/v1/events?' + q({ secret: s.secret, clientId: 'x', channel: unique(), after: 0 }), { signal: ac.signal }).catch(() => null);
    await sleep(200);
    ac.abort();
    await p;
    await sleep(200);
    const m = (await request(s.url, 'GET', '/metrics')).body;
    t.equal(metric(m, 'ganomede_events_requests_total{route="events",status="499"}'), 1);
  } finally { await s.stop(); }
});
