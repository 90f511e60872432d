'use strict';
// The daemon on a Redis Cluster whose master is killed (kill -9) and
// failed over by the cluster itself: publishes on its slots are answered
// 503 while they have no master and 200 again once the replica took over;
// a long-poll waiting on such a channel is subscribed again where the slot
// now lives and woken by the next publish; the other masters' channels
// are served throughout.
const t = require('tap');
const h = require('../lib/harness');
const { startRedisCluster } = require('../lib/redis-cluster');

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const get = (s, o) => h.request(s.url, 'GET', '/events/v1/events?' + q(Object.assign({ secret: s.secret }, o)));
const tag = (ch) => '{' + ch.replace(/%/g, '%25').replace(/\{/g, '%7B').replace(/\}/g, '%7D') + '}';
const post = (s, channel, data) => h.request(s.url, 'POST', '/events/v1/events',
  { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data });

t.test('cluster: a master killed and failed over', { timeout: h.limit(180000) }, async (t) => {
  const cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeout: 1000 });
  t.teardown(() => cluster.stop());
  const s = await h.startServer({ env: { REDIS_URL: 'redis-cluster://' + cluster.seeds(), POLL_TIMEOUT: '30000' } });
  t.teardown(() => s.stop());
  const any = cluster.nodes[0].port;
  // a channel on the master to kill, one on another
  const victim = await cluster.slotMaster(0);
  let onVictim, elsewhere;
  for (let i = 0; !(onVictim && elsewhere); i++) {
    const ch = h.unique('fo' + i) + '{';
    const port = await cluster.slotMaster(await h.redisCommand(any, 'CLUSTER', 'KEYSLOT', tag(ch) + ':last'));
    if (port === victim && !onVictim) onVictim = ch;
    if (port !== victim && !elsewhere) elsewhere = ch;
  }
  for (const ch of [onVictim, elsewhere]) t.equal((await post(s, ch, { n: 1 })).status, 200, 'stored before');
  await h.sleep(200); // replicated
  const poll = get(s, { clientId: 'w', channel: onVictim, after: 1 });
  await h.sleep(300);
  await cluster.kill(victim);
  // while the slot has no master: 503s, answered at once rather than held
  const down = [];
  let resumedAt, firstId;
  const killedAt = Date.now();
  while (Date.now() - killedAt < h.limit(60000)) {
    const started = Date.now();
    const r = await post(s, onVictim, { n: 2 });
    const took = Date.now() - started;
    t.ok(took < h.limit(10000), 'a publish answered within the bound (' + took + ' ms)');
    if (r.status === 200) { resumedAt = Date.now(); firstId = r.json.id; break; }
    t.equal(r.status, 503, 'unavailable while the slot has no master');
    down.push(took);
    const other = await post(s, elsewhere, { n: down.length });
    t.equal(other.status, 200, 'another master\'s channel is served meanwhile');
    await h.sleep(50);
  }
  t.ok(resumedAt, 'publishes on the slot answered 200 again after the failover');
  down.sort((a, b) => a - b);
  t.comment('503s while down: ' + down.length + ', median ' + (down[down.length >> 1] || 0) + ' ms; first 200 ' +
    (resumedAt - killedAt) + ' ms after the kill');
  const r = await poll;
  t.equal(r.status, 200, 'the long-poll waiting through the failover is answered');
  t.same(r.json.map((e) => e.id), [firstId], 'with the event published after the failover');
  // a new long-poll on the promoted master is woken too
  const poll2 = get(s, { clientId: 'w', channel: onVictim, after: firstId });
  await h.sleep(300);
  const third = await post(s, onVictim, { n: 3 });
  t.equal(third.status, 200);
  const r2 = await poll2;
  t.same(r2.json.map((e) => e.id), [third.json.id], 'a long-poll on the new master is woken');
  const all = await get(s, { clientId: 'w2', channel: onVictim, after: 0 });
  t.same(all.json.map((e) => e.data.n), [1, 2, 3], 'the channel\'s events, once each');
});

t.test('cluster: with PUBLISH_MIN_REPLICAS=1 no event answered 200 is lost through a kill -9 and failover', { timeout: h.limit(180000) }, async (t) => {
  const cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeout: 1000 });
  t.teardown(() => cluster.stop());
  const s = await h.startServer({ env: { REDIS_URL: 'redis-cluster://' + cluster.seeds(), PUBLISH_MIN_REPLICAS: '1',
    PUBLISH_REPLICA_TIMEOUT_MS: '500' } });
  t.teardown(() => s.stop());
  const any = cluster.nodes[0].port;
  const victim = await cluster.slotMaster(0);
  const channels = [];
  for (let i = 0; channels.length < 4; i++) {
    const ch = h.unique('mr' + i) + ':}';
    const port = await cluster.slotMaster(await h.redisCommand(any, 'CLUSTER', 'KEYSLOT', tag(ch) + ':last'));
    if (port === victim) channels.push(ch);
  }
  const answered = new Map(channels.map((ch) => [ch, []]));
  const statuses = {};
  let stop = false;
  const publishers = channels.map(async (ch) => {
    for (let n = 1; !stop; n++) {
      const r = await post(s, ch, { n });
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status === 200) answered.get(ch).push({ id: r.json.id, n });
      else await h.sleep(20);
    }
  });
  await h.sleep(500);
  await cluster.kill(victim);
  const killedAt = Date.now();
  // until the replica took over
  let promoted;
  while (Date.now() - killedAt < h.limit(60000) && !promoted) {
    const m = await cluster.slotMaster(0).catch(() => undefined);
    if (m && m !== victim) promoted = m;
    else await h.sleep(100);
  }
  t.ok(promoted, 'a replica took over');
  await h.sleep(1000);
  stop = true;
  await Promise.all(publishers);
  // the promoted master has no replica left: WAIT says so
  const r = await post(s, channels[0], { n: 'after' });
  t.equal(r.status, 503, 'a publish no replica confirmed is not answered 200');
  t.match(r.json.message, /only 0 of the 1 replicas required confirmed the event within 500 ms/);
  t.comment('publish answers: ' + JSON.stringify(statuses));
  t.ok(statuses[503], 'the outage was seen (503s)');
  // Readers see up to each channel's confirmed id: the killed node back as
  // a replica, one more event confirmed on each channel shows every event
  // stored before it (a confirmation the kill cut off included).
  await cluster.restart(victim);
  await cluster.healthy(30000);
  for (const ch of channels) {
    let last;
    for (let i = 0; i < 200 && (!last || last.status !== 200); i++) {
      if (last) await h.sleep(50);
      last = await post(s, ch, { n: 'confirming' });
    }
    t.equal(last.status, 200, ch + ': a publish confirmed again once the shard has a replica');
  }
  for (const ch of channels) {
    const r = await get(s, { clientId: 'check', channel: ch, after: 0, limit: 10000 });
    t.equal(r.status, 200);
    const stored = new Map(r.json.map((e) => [e.id, e.data.n]));
    const lost = answered.get(ch).filter((a) => stored.get(a.id) !== a.n);
    t.same(lost, [], ch + ': every event answered 200 is there (' + answered.get(ch).length + ')');
  }
});
