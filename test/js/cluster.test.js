'use strict';
// The daemon on a real Redis Cluster (REDIS_URL=redis-cluster://...): the
// keys in the cluster layout (docs/protocol.md, "Redis Cluster layout"),
// each channel's keys in the one slot of its tag whatever its name or the
// clientId, publishes and reads on every master, and long-polls woken by
// sharded pub/sub on each master.
const t = require('tap');
const h = require('../lib/harness');
const { startRedisCluster } = require('../lib/redis-cluster');

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const get = (s, o) => h.request(s.url, 'GET', '/events/v1/events?' + q(Object.assign({ secret: s.secret }, o)));
const tag = (ch) => '{' + (ch === '' ? '%' : ch.replace(/%/g, '%25').replace(/\{/g, '%7B').replace(/\}/g, '%7D')) + '}';

async function publish(s, channel, data) {
  const r = await h.request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data });
  if (r.status !== 200) throw new Error('publish ' + r.status + ' ' + r.body);
  return r.json;
}

let cluster, s;
t.before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 0 });
  s = await h.startServer({ env: { REDIS_URL: 'redis-cluster://' + cluster.seeds(), POLL_TIMEOUT: '20000' } });
});
t.teardown(async () => {
  if (s) await s.stop();
  if (cluster) await cluster.stop();
});

const hostile = ['a{b', '}x{', 'c:d', '{}', '{x}:keys', '%7B', 'x:last-fetched:y', '{a}b{c}', 'p%q'];

t.test('cluster: publishes and acknowledged reads on channels of every master, keys in the cluster layout', { timeout: h.limit(120000) }, async (t) => {
  const channels = hostile.concat(Array.from({ length: 40 }, (_, i) => h.unique('cl' + i)));
  const masters = new Set();
  for (const ch of channels) {
    for (let n = 1; n <= 3; n++) t.equal((await publish(s, ch, { n })).id, n, ch + ' id ' + n);
    const clientId = 'c{' + ch + '}:x';
    const r = await get(s, { clientId, channel: ch, after: 0 });
    t.equal(r.status, 200, ch);
    t.same(r.json.map((e) => e.data.n), [1, 2, 3], ch + ': the events in order');
    const ack = await get(s, { clientId, channel: ch, after: 2 });
    t.same(ack.json.map((e) => e.data.n), [3], ch + ': after the acknowledgement');
    const again = await get(s, { clientId, channel: ch });
    t.same(again.json.map((e) => e.data.n), [3], ch + ': the stored cursor');
    const tg = tag(ch);
    const slot = await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tg + ':last');
    for (const k of [tg + ':keys', tg + ':1', tg + ':cursor:' + clientId])
      t.equal(await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', k), slot, ch + ': ' + k + ' in the slot');
    const port = await cluster.slotMaster(slot);
    masters.add(port);
    t.equal(await h.redisCommand(port, 'GET', tg + ':last'), '3', ch + ': the counter');
    t.equal(await h.redisCommand(port, 'ZCARD', tg + ':keys'), 3, ch + ': the event list');
    t.equal(await h.redisCommand(port, 'GET', tg + ':cursor:' + clientId), '2', ch + ': the cursor');
    const latest = await h.request(s.url, 'GET', '/events/v1/latest?' + q({ secret: s.secret, channel: ch, limit: 2 }));
    t.same(latest.json.map((e) => e.data.n), [2, 3], ch + ': latest');
  }
  t.equal(masters.size, 3, 'the channels lie on every master');
  // No key of the single-Redis layout anywhere.
  for (const n of cluster.nodes) {
    const keys = await h.redisCommand(n.port, 'KEYS', '*');
    t.same(keys.filter((k) => !k.startsWith('{')), [], 'only tagged keys on ' + n.port);
  }
});

t.test('cluster: a long-poll is woken by a publish on each master', { timeout: h.limit(120000) }, async (t) => {
  const byMaster = new Map();
  for (let i = 0; byMaster.size < 3 && i < 200; i++) {
    const ch = h.unique('lp' + i) + (i % 2 ? '{' : ':');
    const slot = await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag(ch) + ':last');
    const port = await cluster.slotMaster(slot);
    if (!byMaster.has(port)) byMaster.set(port, ch);
  }
  t.equal(byMaster.size, 3, 'a channel on each master');
  for (const [port, ch] of byMaster) {
    await publish(s, ch, { n: 1 });
    const started = Date.now();
    const poll = get(s, { clientId: 'w', channel: ch, after: 1 });
    await h.sleep(300);
    await publish(s, ch, { n: 2 });
    const r = await poll;
    t.equal(r.status, 200);
    t.same(r.json.map((e) => e.data.n), [2], 'woken on the master at ' + port);
    t.ok(Date.now() - started < 15000, 'before the poll timeout');
  }
});

t.test('cluster: many long-polls over many channels all get their event', { timeout: h.limit(120000) }, async (t) => {
  const channels = Array.from({ length: 60 }, (_, i) => h.unique('many' + i) + (i % 3 === 0 ? '}' : ''));
  for (const ch of channels) await publish(s, ch, { n: 0 });
  const polls = channels.map((ch) => get(s, { clientId: 'm', channel: ch, after: 1 }));
  await h.sleep(500);
  await Promise.all(channels.map((ch, i) => publish(s, ch, { n: i })));
  const rs = await Promise.all(polls);
  rs.forEach((r, i) => t.same([r.status, r.json.map((e) => e.data.n)], [200, [i]], channels[i]));
});

t.test('cluster: /health lists the shards, /metrics the cluster client\'s counts', async (t) => {
  const r = await h.request(s.url, 'GET', '/health');
  t.equal(r.status, 200);
  t.equal(r.json.status, 'ok');
  t.equal(r.json.cluster.slotsServed, 16384, 'every slot served');
  t.equal(r.json.cluster.shards.length, 3, 'three masters');
  t.same(r.json.cluster.shards.map((x) => x.reachable), [true, true, true], 'all reachable');
  t.equal(r.json.cluster.shards.reduce((a, x) => a + x.slots, 0), 16384, 'their slots');
  const m = await h.request(s.url, 'GET', '/metrics');
  t.equal(m.status, 200);
  t.match(m.body, /ganomede_events_cluster_slots_served 16384/);
  t.match(m.body, /ganomede_events_cluster_masters\{state="reachable"\} 3/);
  t.match(m.body, /ganomede_events_cluster_subscriptions\{state="wanted"\} \d+/);
  for (const n of cluster.nodes) {
    t.match(m.body, new RegExp('\nganomede_events_cluster_master_up\\{master="127\\.0\\.0\\.1:' + n.port + '"\\} 1\n'), 'master ' + n.port + ' up');
  }
  const slots = [...m.body.matchAll(/\nganomede_events_cluster_master_slots\{master="[^"]+"\} (\d+)/g)].map((x) => Number(x[1]));
  t.same([slots.length, slots.reduce((a, b) => a + b, 0)], [3, 16384], 'each master\'s slots');
});

t.test('cluster: slots migrated while publishing and consuming: nothing lost, nothing doubled', { timeout: h.limit(180000) }, async (t) => {
  const N = 120;
  const channels = Array.from({ length: 6 }, (_, i) => h.unique('mig' + i) + (i % 2 ? '{x}' : ':y'));
  const ports = cluster.nodes.map((n) => n.port);
  const plan = [];
  for (const ch of channels) {
    const slot = await h.redisCommand(ports[0], 'CLUSTER', 'KEYSLOT', tag(ch) + ':last');
    const from = await cluster.slotMaster(slot);
    plan.push({ ch, slot, from, to: ports[(ports.indexOf(from) + 1) % ports.length] });
  }
  const answered = new Map(channels.map((ch) => [ch, []]));
  const statuses = {};
  let publishing = true;
  const publishers = channels.map(async (ch) => {
    for (let n = 1; n <= N; n++) {
      const r = await h.request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'pub', channel: ch, from: 'f', type: 't', data: { n } });
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status === 200) answered.get(ch).push({ id: r.json.id, n });
      await h.sleep(2);
    }
  });
  const received = new Map(channels.map((ch) => [ch, []]));
  const reads = {};
  const consumers = channels.map(async (ch) => {
    let after = 0;
    for (;;) {
      const r = await get(s, { clientId: 'consumer', channel: ch, after, limit: 50 });
      reads[r.status] = (reads[r.status] || 0) + 1;
      if (r.status === 200) {
        for (const e of r.json) received.get(ch).push({ id: e.id, n: e.data.n });
        if (r.json.length) after = r.json[r.json.length - 1].id;
      } else await h.sleep(20);
      if (!publishing && after >= Math.max(0, ...answered.get(ch).map((a) => a.id))) return;
    }
  });
  await h.sleep(200);
  for (const p of plan) await cluster.migrateSlot(p.slot, p.from, p.to);
  await Promise.all(publishers);
  publishing = false;
  for (const ch of channels) await publish(s, ch, { n: 'end' }); // wakes the last polls
  await Promise.all(consumers);
  t.comment('publish answers: ' + JSON.stringify(statuses) + ', read answers: ' + JSON.stringify(reads));
  t.notOk(statuses[500] || reads[500], 'no publish nor read answered 500');
  for (const p of plan) {
    t.equal(await cluster.slotMaster(p.slot), p.to, p.ch + ': the slot moved');
    const got = received.get(p.ch).filter((e) => e.n !== 'end');
    const ids = got.map((e) => e.id);
    t.same(ids, ids.slice().sort((a, b) => a - b).filter((v, i, a) => i === 0 || a[i - 1] !== v), p.ch + ': in id order, no duplicate');
    const byId = new Map(got.map((e) => [e.id, e.n]));
    const missing = answered.get(p.ch).filter((a) => byId.get(a.id) !== a.n);
    t.same(missing, [], p.ch + ': every event answered 200 read once, as published');
    t.equal(new Set(answered.get(p.ch).map((a) => a.id)).size, answered.get(p.ch).length, p.ch + ': no id answered twice');
  }
});

const consumersOf = (s, channel) => h.request(s.url, 'GET', '/events/v1/consumers?' + q({ secret: s.secret, channel }));

async function allChannels(t, s, limit) {
  const seen = new Map();
  let cursor = null, pages = 0;
  do {
    const r = await h.request(s.url, 'GET', '/events/v1/channels?' + q(Object.assign({ secret: s.secret, limit }, cursor ? { cursor } : {})));
    if (r.status !== 200) { t.fail('channels ' + r.status + ' ' + r.body); break; }
    for (const c of r.json.channels) seen.set(c.channel, c);
    cursor = r.json.cursor;
    if (cursor !== null) t.match(cursor, /^\d+-\d+$/, 'a page cursor names a master and its SCAN');
  } while (cursor !== null && ++pages < 10000);
  return seen;
}

t.test('cluster: the consumers of a channel, filed in its slot, by either kind of read', { timeout: h.limit(60000) }, async (t) => {
  for (const ch of ['lag', 'a{b}:c', '{x}:keys'].map((b) => b + h.unique(':'))) {
    const before = (await consumersOf(s, ch)).json;
    for (let n = 1; n <= 5; n++) await publish(s, ch, { n });
    const stored = 'c{' + ch + '}:x', range = 'r' + h.unique();
    t.equal((await get(s, { clientId: stored, channel: ch })).status, 200); // the read script (the stored cursor)
    t.equal((await get(s, { clientId: range, channel: ch, after: 2 })).status, 200); // the range read (MGET)
    t.equal((await get(s, { clientId: stored, channel: ch, after: 4 })).status, 200);
    const r = await consumersOf(s, ch);
    t.equal(r.status, 200, JSON.stringify(ch));
    t.equal(r.json.channel, ch);
    t.equal(r.json.last, before.last + 5, 'the last id');
    const by = Object.fromEntries(r.json.consumers.map((c) => [c.clientId, c]));
    t.same([by[stored] && by[stored].after, by[stored] && by[stored].lag], [4, before.last + 1], 'the script\'s read files it, with its cursor and lag');
    t.same([by[range] && by[range].after, by[range] && by[range].lag], [2, before.last + 3], 'the range read files it too');
    const slot = await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag(ch) + ':last');
    t.equal(await h.redisCommand(await cluster.slotMaster(slot), 'ZCARD', tag(ch) + ':consumers') >= 2, true, 'the registry is the channel\'s own key, in its slot');
  }
  const none = await consumersOf(s, h.unique('never'));
  t.same([none.status, none.json.last, none.json.consumers], [200, 0, []], 'an unknown channel: none');
});

t.test('cluster: DELETE forgets a consumer, in its channel\'s slot', { timeout: h.limit(60000) }, async (t) => {
  const ch = h.unique('forget{');
  for (let n = 1; n <= 3; n++) await publish(s, ch, { n });
  t.equal((await get(s, { clientId: 'gone', channel: ch, after: 2 })).status, 200);
  t.equal((await get(s, { clientId: 'stays', channel: ch, after: 1 })).status, 200);
  const del = (clientId) => h.request(s.url, 'DELETE', '/events/v1/consumers?' + q({ secret: s.secret, channel: ch, clientId }));
  let r = await del('gone');
  t.same([r.status, r.json], [200, { channel: ch, clientId: 'gone', after: 2 }]);
  r = await consumersOf(s, ch);
  t.same(r.json.consumers.map((c) => c.clientId), ['stays'], 'out of the registry');
  const slot = await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag(ch) + ':last');
  t.equal(await h.redisCommand(await cluster.slotMaster(slot), 'EXISTS', tag(ch) + ':cursor:gone'), 0, 'its cursor is deleted');
  t.same([(await del('gone')).status, (await del('never')).status], [404, 404], 'a name the registry does not hold: 404');
  r = await get(s, { clientId: 'gone', channel: ch });
  t.same(r.json.map((e) => e.id), [1, 2, 3], 'back again, it reads from the start');
});

t.test('cluster: the channels, a page at a time over every master, each once', { timeout: h.limit(60000) }, async (t) => {
  const mine = hostile.map((x) => x + h.unique('+')).concat(Array.from({ length: 30 }, () => h.unique('pg')));
  for (const ch of mine) await publish(s, ch, { n: 1 });
  await publish(s, mine[0], { n: 2 });
  for (const limit of [1, 7, 1000]) {
    const seen = await allChannels(t, s, limit);
    t.same(mine.filter((ch) => !seen.has(ch)), [], 'every channel listed, limit ' + limit);
    t.same([seen.get(mine[0]).last, seen.get(mine[0]).retained], [2, 2], 'with its last id and retained events');
  }
  for (const bad of ['x', '1', '16384-0', '-1', '01-0', '5-', '5-x', '5-' + '9'.repeat(21)]) {
    const r = await h.request(s.url, 'GET', '/events/v1/channels?' + q({ secret: s.secret, cursor: bad }));
    t.equal(r.status, 400, 'cursor ' + bad);
    t.match(r.json && r.json.message, /Invalid cursor/);
  }
});

t.test('cluster: consumer lag gauges (METRICS_LAG)', { timeout: h.limit(60000) }, async (t) => {
  const prefix = h.unique('lagm');
  const s2 = await h.startServer({ env: { REDIS_URL: 'redis-cluster://' + cluster.seeds(), METRICS_LAG: prefix + '*=w*', METRICS_LAG_INTERVAL: '1' } });
  t.teardown(() => s2.stop());
  const chans = [prefix + 'a', prefix + 'b{'];
  for (const ch of chans) {
    for (let n = 1; n <= 3; n++) await publish(s2, ch, { n });
    await get(s2, { clientId: 'w1', channel: ch, after: 1 });
    await get(s2, { clientId: 'other', channel: ch, after: 0 });
  }
  const end = Date.now() + h.limit(15000);
  let body = '';
  while (Date.now() < end) {
    body = (await h.request(s2.url, 'GET', '/metrics')).body;
    if ((body.match(/^ganomede_events_consumer_lag\{[^\n]*w1[^\n]* 2$/gm) || []).length === 2) break;
    await h.sleep(100);
  }
  t.equal((body.match(/^ganomede_events_consumer_lag\{[^\n]*w1[^\n]* 2$/gm) || []).length, 2, 'the selected consumer on both channels, lag 2');
  t.notMatch(body, /consumer_lag\{[^\n]*"other"/, 'the others are not');
});

t.test('cluster: retention by count at publish, by age in the sweep, and the walk at start, on every master', { timeout: h.limit(90000) }, async (t) => {
  const p = h.unique('ret');
  const olds = Array.from({ length: 12 }, (_, i) => p + '/old{' + i);
  for (const ch of olds) for (let n = 1; n <= 5; n++) await publish(s, ch, { n }); // before any rule
  const s2 = await h.startServer({
    env: { REDIS_URL: 'redis-cluster://' + cluster.seeds(), RETENTION_RULES: p + '/old*=2,' + p + '/cnt*=3,' + p + '/age*=0:2s', RETENTION_SWEEP_INTERVAL: '1' },
  });
  t.teardown(() => s2.stop());
  const zcard = async (ch) => {
    const slot = await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag(ch) + ':keys');
    return h.redisCommand(await cluster.slotMaster(slot), 'ZCARD', tag(ch) + ':keys');
  };
  const until = async (what, cond) => {
    const end = Date.now() + h.limit(20000);
    while (!(await cond())) {
      if (Date.now() > end) { t.fail(what + ': not within the time'); return; }
      await h.sleep(200);
    }
    t.pass(what);
  };
  await until('the walk at start trims the channels that were there before the rules', async () => {
    for (const ch of olds) if ((await zcard(ch)) !== 2) return false;
    return true;
  });
  const cnt = Array.from({ length: 12 }, (_, i) => p + '/cnt:' + i);
  for (const ch of cnt) for (let n = 1; n <= 6; n++) await publish(s2, ch, { n });
  for (const ch of cnt) t.equal(await zcard(ch), 3, ch + ': the last 3, trimmed by the publishes');
  const r = await get(s2, { clientId: h.unique('c'), channel: cnt[0], after: 1 });
  t.same(r.json.map((e) => e.id), [4, 5, 6], 'the retained events are read');
  t.equal(r.headers.get('x-events-lost'), '2-3', 'the trimmed ones are told lost');
  const age = Array.from({ length: 12 }, (_, i) => p + '/age}' + i);
  for (const ch of age) for (let n = 1; n <= 3; n++) await publish(s2, ch, { n });
  const masters = new Set();
  for (const ch of age) {
    const slot = await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag(ch) + ':keys');
    masters.add(await cluster.slotMaster(slot));
  }
  t.equal(masters.size, 3, 'the age-limited channels lie on every master');
  await until('the sweep removes every event older than 2 s, on every master', async () => {
    for (const ch of age) if ((await zcard(ch)) !== 0) return false;
    return true;
  });
  const lists = [];
  for (const n of cluster.nodes) {
    const [, keys] = await h.redisCommand(n.port, 'SCAN', '0', 'MATCH', '{*}retention', 'COUNT', '100000');
    for (const k of keys) for (const ch of age) if ((await h.redisCommand(n.port, 'ZSCORE', k, ch)) !== null) lists.push(k + ' ' + ch);
  }
  t.same(lists, [], 'and takes them off the retention lists of their slots');
  t.equal((await publish(s2, age[0], { n: 4 })).id, 4, 'ids go on');
});

t.test('cluster: a master out of memory: its channels 503 StorageFull, the others served, /health per master, the probe sees it end', { timeout: h.limit(90000) }, async (t) => {
  const ch = h.unique('oom');
  await publish(s, ch, { n: 1 });
  const slotOf = (c) => h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag(c) + ':last');
  const port = await cluster.slotMaster(await slotOf(ch));
  let other;
  for (let i = 0; !other && i < 100; i++) {
    const c = h.unique('oom-other');
    if ((await cluster.slotMaster(await slotOf(c))) !== port) other = c;
  }
  const masters = [...new Set(await Promise.all(cluster.nodes.map(async (n) => {
    const role = await h.redisCommand(n.port, 'ROLE');
    return role[0] === 'master' ? n.port : null;
  })))].filter(Boolean);
  const reset = () => Promise.all(masters.map((p) => h.redisCommand(p, 'CONFIG', 'SET', 'maxmemory', '0').catch(() => {})));
  t.teardown(reset);
  const shardOf = (health, p) => health.json.cluster.shards.find((x) => x.master.endsWith(':' + p));
  const post = (c) => h.request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'pub', channel: c, from: 'f', type: 't' });

  await h.redisCommand(port, 'CONFIG', 'SET', 'maxmemory', '1');
  let r = await post(ch);
  t.same([r.status, r.json && r.json.code], [503, 'StorageFull'], 'a publish on the full master is refused');
  for (let i = 0; i < 3; i++) {
    r = await post(other);
    t.equal(r.status, 200, 'a channel of another master is served');
    const health = await h.request(s.url, 'GET', '/health');
    t.same([health.status, health.json.redis.writes], [200, true], '/health stays ok while some master takes writes (no flapping)');
    t.same([shardOf(health, port).writable, shardOf(health, port).reachable], [false, true], 'and names the full master');
  }
  const m = (await h.request(s.url, 'GET', '/metrics')).body;
  t.match(m, new RegExp('ganomede_events_cluster_master_writable\\{master="[^"]*:' + port + '"\\} 0\\n'), 'its gauge: 0');
  t.match(m, /ganomede_events_cluster_master_writable\{master="[^"]*"\} 1\n/, 'the others: 1');

  await h.redisCommand(port, 'CONFIG', 'SET', 'maxmemory', '0');
  const until = async (what, ok) => {
    const end = Date.now() + h.limit(10000);
    let health;
    while (Date.now() < end && !ok(health = await h.request(s.url, 'GET', '/health'))) await h.sleep(100);
    t.ok(ok(health), what);
    return health;
  };
  await until('writes again, seen by the probe (no publish meanwhile)', (x) => shardOf(x, port).writable === true);
  t.equal((await publish(s, ch, { n: 2 })).id, 2, 'and publishes go on');

  // Every master full: the daemon as a whole cannot take a write.
  for (const p of masters) await h.redisCommand(p, 'CONFIG', 'SET', 'maxmemory', '1');
  t.equal((await post(ch)).status, 503);
  let health = await until('every master full: /health 503, writes false', (x) => x.status === 503 && x.json.redis.writes === false);
  t.ok(health.json.cluster.shards.every((x) => x.writable === false), 'each master named full');
  t.match(health.json.reason, /out of memory/);
  await reset();
  health = await until('room again: /health 200', (x) => x.status === 200 && x.json.redis.writes === true);
  t.ok(health.json.cluster.shards.every((x) => x.writable === true), 'every master writable');
});

t.test('cluster: indices, the definition in its id\'s slot, position and rows in the channel\'s, on every master', { timeout: h.limit(60000) }, async (t) => {
  const define = (id, channel, field) => h.request(s.url, 'POST', '/events/v1/indices', { secret: s.secret, id, channel, field });
  const lookup = (id, value) => h.request(s.url, 'GET', '/events/v1/indices/' + encodeURIComponent(id) + '/' + encodeURIComponent(value) + '?secret=' + s.secret);
  const masters = new Set();
  for (const [i, base] of ['ix', 'a{b', '}:index:', 'p%q', 'x', 'y', 'z', 'w'].entries()) {
    const ch = base + h.unique(':'), id = 'id{' + i + '}' + h.unique(':');
    await publish(s, ch, { user: 'bob' });
    await publish(s, ch, { user: 'alice' });
    let r = await define(id, ch, 'data.user');
    t.strictSame([r.status, r.json], [200, 'OK'], 'defined');
    t.strictSame((await define(id, ch, 'data.other')).json, null, 'once');
    await publish(s, ch, { user: 'bob' });
    r = await lookup(id, 'bob');
    t.equal(r.status, 200, JSON.stringify(ch));
    t.strictSame([r.json.id, r.json.field, r.json.value, r.json.rows.map((e) => e.id)], [id, 'data.user', 'bob', [3, 1]], 'the rows, newest first');
    await publish(s, ch, { user: 'bob' });
    t.strictSame((await lookup(id, 'bob')).json.rows.map((e) => e.id), [4, 3, 1], 'incrementally');
    t.strictSame((await lookup(id, 'alice')).json.rows.map((e) => e.id), [2]);
    const idSlot = await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag(id) + 'index');
    t.equal(await h.redisCommand(await cluster.slotMaster(idSlot), 'GET', tag(id) + 'index'), JSON.stringify({ id, channel: ch, field: 'data.user' }), 'the definition');
    const slot = await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag(ch) + ':last');
    const port = await cluster.slotMaster(slot);
    masters.add(port);
    t.equal(await h.redisCommand(port, 'GET', tag(ch) + ':position:' + id), '4', 'the position, in the channel\'s slot');
    t.strictSame(await h.redisCommand(port, 'LRANGE', tag(ch) + ':index:' + Buffer.byteLength(id) + ':' + id + ':bob', 0, -1), ['4', '3', '1'], 'the list');
  }
  t.ok(masters.size >= 2, 'channels of several masters');
  const none = await lookup(h.unique('nope'), 'v');
  t.equal(none.status, 404, 'an unknown index');
  const concurrent = h.unique('cc'), cid = h.unique('cid');
  await define(cid, concurrent, 'data.user');
  for (let i = 0; i < 20; i++) await publish(s, concurrent, { user: 'carol' });
  const all = await Promise.all(Array.from({ length: 10 }, () => lookup(cid, 'carol')));
  for (const r of all) t.equal(r.json.rows.length, 20, 'concurrent lookups index every event once');
});

t.test('cluster: one multi-channel long-poll over channels of every master is woken by a publish on any', { timeout: h.limit(60000) }, async (t) => {
  const chans = Array.from({ length: 30 }, (_, i) => h.unique('mu' + i) + (i % 2 ? '{' : ''));
  for (let round = 0; round < 3; round++) {
    const pending = h.request(s.url, 'POST', '/events/v1/events/multi',
      { secret: s.secret, clientId: 'mu' + round, channels: chans.map((channel) => ({ channel, after: round })) });
    await h.sleep(300);
    const ch = chans[round * 11];
    for (const c of chans) await publish(s, c, { round, mine: c === ch }); // every channel moves on by one
    const r = await pending;
    t.equal(r.status, 200);
    t.ok(r.json.channels.length >= 1, 'answered with what was published');
    t.ok(r.json.channels.every((c) => c.events.every((e) => e.data.round === round)), 'this round\'s events');
  }
});

t.test('cluster: a cursor on an id a failover gave again is told (afterTimestamp, X-Events-Reset)', { timeout: h.limit(60000) }, async (t) => {
  const ch = h.unique('reused') + '{:}';
  const tg = tag(ch);
  const old = [];
  for (let n = 1; n <= 5; n++) old.push(await publish(s, ch, { n }));
  // what a lagging replica promoted holds: events 4 and 5 gone, the counter at 3
  const port = await cluster.slotMaster(await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tg + ':last'));
  for (const id of [4, 5]) {
    await h.redisCommand(port, 'DEL', tg + ':' + id);
    await h.redisCommand(port, 'ZREM', tg + ':keys', tg + ':' + id);
  }
  await h.redisCommand(port, 'SET', tg + ':last', '3');
  await h.sleep(5);
  await publish(s, ch, { n: 6 });
  await publish(s, ch, { n: 7 });
  const summary = (r) => [r.status, r.headers.get('x-events-reset'), r.json.map((e) => e.id + ':' + e.data.n)];
  for (const limit of [10, 101]) { // the range read and the script
    const r = await get(s, { clientId: 'a', channel: ch, after: 5, afterTimestamp: old[4].timestamp, limit });
    t.same(summary(r), [200, '5', ['4:6', '5:7']], 'reset, the new events 4 and 5 (limit ' + limit + ')');
  }
  t.equal(await h.redisCommand(port, 'GET', tg + ':cursor:a'), '3', 'the stored cursor lowered to 3');
});

// Channels whose tags hash to one slot: CRC16 (XMODEM) of a plain name,
// as Redis Cluster hashes "{name}".
function crc16(str) {
  let crc = 0;
  for (const b of Buffer.from(str)) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
function sameSlot(prefix, n) {
  const first = prefix + '-0', slot = crc16(first) % 16384, out = [first];
  for (let i = 1; out.length < n; i++) if (crc16(prefix + '-' + i) % 16384 === slot) out.push(prefix + '-' + i);
  return { channels: out, slot };
}
// The script calls a master ran since its counts were reset.
async function scriptCalls(port) {
  const info = await h.redisCommand(port, 'INFO', 'commandstats');
  let n = 0;
  for (const m of String(info).matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) n += Number(m[2]);
  return n;
}
const post = (channel, data, headers) =>
  h.request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data }, headers);

t.test('cluster: concurrent publishes of one channel share script calls, each answered its own id', { timeout: h.limit(60000) }, async (t) => {
  const ch = h.unique('batch1');
  const tg = tag(ch);
  const port = await cluster.slotMaster(await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tg + ':last'));
  await h.redisCommand(port, 'CONFIG', 'RESETSTAT');
  const N = 300;
  const rs = await Promise.all(Array.from({ length: N }, (_, n) => post(ch, { n })));
  const calls = await scriptCalls(port);
  t.ok(rs.every((r) => r.status === 200), 'every publish stored');
  t.ok(calls > 0 && calls < N, 'fewer script calls (' + calls + ') than publishes (' + N + ')');
  t.same(rs.map((r) => r.json.id).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1), 'ids 1..N, each once');
  const stored = await get(s, { clientId: 'b1', channel: ch, after: 0, limit: 1000 });
  t.same(stored.json.map((e) => e.id), Array.from({ length: N }, (_, i) => i + 1), 'stored in the order of their ids');
  const byId = new Map(stored.json.map((e) => [e.id, e.data.n]));
  t.ok(rs.every((r, n) => byId.get(r.json.id) === n), 'each answered the id of its own event');
  // Distinct new Idempotency-Keys sharing calls, then all of them again at once: repeats, nothing more stored.
  const K = 100, key = (i) => 'bk-' + ch + '-' + i;
  const keyed = await Promise.all(Array.from({ length: K }, (_, i) => post(ch, { i }, { 'Idempotency-Key': key(i) })));
  t.ok(keyed.every((r) => r.status === 200 && r.headers.get('x-events-repeat') === null), 'keyed publishes stored');
  t.same(keyed.map((r) => r.json.id).sort((a, b) => a - b), Array.from({ length: K }, (_, i) => N + i + 1), 'their ids follow, each once');
  const again = await Promise.all(Array.from({ length: K }, (_, i) => post(ch, { i }, { 'Idempotency-Key': key(i) })));
  t.ok(again.every((r, i) => r.status === 200 && r.headers.get('x-events-repeat') === 'true' && r.json.id === keyed[i].json.id),
    'each repeat answered its own first event');
  t.equal(await h.redisCommand(port, 'GET', tg + ':last'), String(N + K), 'nothing more stored');
});

t.test('cluster: publishes of channels of one slot share calls; a collision or a repeat answered for its event only', { timeout: h.limit(60000) }, async (t) => {
  const { channels, slot } = sameSlot(h.unique('slotb'), 4);
  const port = await cluster.slotMaster(slot);
  for (const c of channels) t.equal(await h.redisCommand(port, 'CLUSTER', 'KEYSLOT', tag(c) + ':last'), slot, c + ' in slot ' + slot);
  const bad = channels[3];
  await h.redisCommand(port, 'SET', tag(bad) + ':1', 'not an event'); // the first event of `bad` collides
  await h.redisCommand(port, 'CONFIG', 'RESETSTAT');
  const N = 240, jobs = [];
  for (let n = 0; n < N; n++) {
    const c = channels[n % 4];
    // on channels[2], every fourth one repeats one key: one event, the others its repeats
    const headers = c === channels[2] && n % 8 === 2 ? { 'Idempotency-Key': 'same-key-1' } : {};
    jobs.push(post(c, c === channels[2] && headers['Idempotency-Key'] ? { k: 1 } : { n }, headers).then((r) => ({ c, n, r, keyed: !!headers['Idempotency-Key'] })));
  }
  const rs = await Promise.all(jobs);
  const calls = await scriptCalls(port);
  t.ok(calls > 0 && calls < N, 'fewer script calls (' + calls + ') than publishes (' + N + ')');
  const badOnes = rs.filter((x) => x.c === bad);
  t.ok(badOnes.every((x) => x.r.status !== 200 && x.r.json && x.r.json.code === 'KeyCollision'), 'each publish on the collided channel told: ' + badOnes[0].r.status + ' ' + badOnes[0].r.body);
  t.equal(await h.redisCommand(port, 'GET', tag(bad) + ':1'), 'not an event', 'the colliding key left as it was');
  t.equal(await h.redisCommand(port, 'EXISTS', tag(bad) + ':last'), 0, 'its counter undone');
  for (const c of channels.slice(0, 3)) {
    const mine = rs.filter((x) => x.c === c);
    t.ok(mine.every((x) => x.r.status === 200), c + ': every publish answered 200 beside the collisions');
    const stored = (await get(s, { clientId: 'b2', channel: c, after: 0, limit: 1000 })).json;
    const plain = mine.filter((x) => !x.keyed);
    const keyed = mine.filter((x) => x.keyed);
    t.equal(stored.length, plain.length + (keyed.length ? 1 : 0), c + ': one event per publish, one for the repeated key');
    t.same(stored.map((e) => e.id), stored.map((_, i) => i + 1), c + ': ids 1..n in order');
    const byId = new Map(stored.map((e) => [e.id, e.data]));
    t.ok(plain.every((x) => byId.get(x.r.json.id).n === x.n), c + ': each answered the id of its own event');
    if (keyed.length) {
      const ids = new Set(keyed.map((x) => x.r.json.id));
      t.equal(ids.size, 1, c + ': the repeats answered the first event\'s id');
      t.equal(keyed.filter((x) => x.r.headers.get('x-events-repeat') === 'true').length, keyed.length - 1, c + ': all but one told a repeat');
      t.same(byId.get([...ids][0]), { k: 1 }, c + ': that event is the keyed body');
    }
  }
});

t.test('cluster: a slot migrated under concurrent publishes sharing its calls: nothing lost, nothing doubled', { timeout: h.limit(180000) }, async (t) => {
  const { channels, slot } = sameSlot(h.unique('migb'), 3);
  const ports = cluster.nodes.map((n) => n.port);
  const from = await cluster.slotMaster(slot), to = ports[(ports.indexOf(from) + 1) % ports.length];
  await h.redisCommand(from, 'CONFIG', 'RESETSTAT');
  const answered = new Map(channels.map((ch) => [ch, []]));
  const statuses = {};
  const W = 6, N = 40; // W publishers at once on each channel, N publishes each
  const publishers = [];
  for (const ch of channels) {
    for (let w = 0; w < W; w++) {
      publishers.push((async () => {
        for (let n = 0; n < N; n++) {
          const r = await post(ch, { w, n });
          statuses[r.status] = (statuses[r.status] || 0) + 1;
          if (r.status === 200) answered.get(ch).push({ id: r.json.id, k: w + ':' + n });
          await h.sleep(1);
        }
      })());
    }
  }
  const followed = async () => {
    const m = (await h.request(s.url, 'GET', '/metrics')).body;
    const v = (re) => Number((re.exec(m) || [0, 0])[1]);
    return v(/^ganomede_events_cluster_retries_total (\d+)/m) + v(/^ganomede_events_cluster_redirects_total\{kind="ask"\} (\d+)/m);
  };
  const before = await followed();
  await h.sleep(100);
  const shared = await scriptCalls(from);
  await cluster.migrateSlot(slot, from, to);
  await Promise.all(publishers);
  t.ok(await followed() > before, 'calls met the slot half moved (TRYAGAIN or ASK followed)');
  t.comment('publish answers: ' + JSON.stringify(statuses) + ', script calls on the old master before the move: ' + shared);
  t.notOk(statuses[500], 'no publish answered 500');
  t.ok(statuses[200] > 0, 'publishes stored');
  t.equal(await cluster.slotMaster(slot), to, 'the slot moved');
  for (const ch of channels) {
    const got = (await get(s, { clientId: 'mb', channel: ch, after: 0, limit: 10000 })).json;
    const ids = got.map((e) => e.id);
    t.same(ids, ids.slice().sort((a, b) => a - b).filter((v, i, a) => i === 0 || a[i - 1] !== v), ch + ': in id order, no duplicate');
    const byId = new Map(got.map((e) => [e.id, e.data.w + ':' + e.data.n]));
    t.same(answered.get(ch).filter((a) => byId.get(a.id) !== a.k), [], ch + ': every event answered 200 stored once, as published');
    t.equal(new Set(answered.get(ch).map((a) => a.id)).size, answered.get(ch).length, ch + ': no id answered twice');
    t.equal(new Set(got.map((e) => e.data.w + ':' + e.data.n)).size, got.length, ch + ': no publish stored twice');
  }
});
