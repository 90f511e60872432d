'use strict';
// The multi-channel long-poll (the route every Client and the CLI use for
// their channels) on a Redis Cluster with one master down: the channels of
// the other masters are served, as publishes and single-channel reads are.
const t = require('tap');
const h = require('../lib/client-harness');
const { startRedisCluster } = require('../lib/redis-cluster');

const tag = (c) => '{' + c.replace(/%/g, '%25').replace(/\{/g, '%7B').replace(/\}/g, '%7D') + '}';

t.test('cluster, one master down: a multi-channel read and a Client serve the other masters\' channels', { timeout: h.limit(90000) }, async (t) => {
  const cluster = await startRedisCluster({ masters: 3, replicas: 0 });
  t.teardown(() => cluster.stop());
  const s = await h.startServer({ env: { REDIS_URL: 'redis-cluster://' + cluster.seeds(), POLL_TIMEOUT: '1000' } });
  t.teardown(() => s.stop());
  const victim = await cluster.slotMaster(0);
  let up, down;
  for (let i = 0; !(up && down); i++) {
    const c = h.unique('md' + i);
    const m = await cluster.slotMaster(await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag(c) + ':last'));
    if (m === victim) down = down || c;
    else up = up || c;
  }
  const stack = { server: s, url: s.url };
  for (const c of [up, down]) await h.publish(stack, c, { from: 'f', type: 't', data: { n: 1 } });
  await cluster.kill(victim);
  await h.sleep(300);
  t.equal((await h.request(s.url, 'GET', '/events/v1/events?secret=' + s.secret + '&clientId=r&channel=' + up + '&after=0')).status,
    200, 'the single-channel read of a channel on a live master is served');
  const multi = (channels) => h.request(s.url, 'POST', '/events/v1/events/multi', { secret: s.secret, clientId: 'r', channels });
  const metrics = (await h.request(s.url, 'GET', '/metrics')).body;
  t.match(metrics, new RegExp('\nganomede_events_cluster_master_up\\{master="127\\.0\\.0\\.1:' + victim + '"\\} 0\n'), '/metrics: the down master');
  const alone = await multi([{ channel: up, after: 0 }]);
  t.equal(alone.status, 200, 'a multi-channel read of that channel alone is served');
  const both = await multi([{ channel: up, after: 0 }, { channel: down, after: 0 }]);
  t.equal(both.status, 200, 'with a channel of the down master beside it too: ' + both.body);
  t.same(((both.json && both.json.channels) || []).filter((x) => x.channel === up).map((x) => x.events.map((e) => e.data.n)), [[1]],
    'the live master\'s channel has its events');
  const downPart = ((both.json && both.json.channels) || []).find((x) => x.channel === down);
  t.same(downPart && [downPart.events, downPart.error && downPart.error.status, downPart.error && downPart.error.code],
    [[], 503, 'ServiceUnavailable'], 'the down master\'s channel is answered with its own error');
  t.equal((await multi([{ channel: down, after: 0 }])).status, 503, 'a request of only that channel is a 503 as a whole');

  // A Client listening on both gets the live channel's new events.
  const c = new h.Client(h.unique('md'), { secret: s.secret, protocol: 'http', hostname: '127.0.0.1', port: s.port });
  t.teardown(() => c.close());
  const errors = [];
  c.on('error', (err, ch) => errors.push(ch + ' ' + err.statusCode));
  const got = [];
  c.on(up, (e) => got.push(e.data.n));
  c.on(down, () => {});
  await h.publish(stack, up, { from: 'f', type: 't', data: { n: 2 } });
  const end = Date.now() + h.limit(8000);
  while (!got.includes(2) && Date.now() < end) await h.sleep(50);
  t.ok(errors.some((e) => e.startsWith(down + ' 503')), 'the down channel\'s error is told for it');
  t.ok(got.includes(2), 'the Client received the live channel\'s event within 8 s (errors: ' +
    JSON.stringify(errors.filter((e) => e.startsWith(up)).slice(0, 3)) + ', ' + errors.filter((e) => e.startsWith(up)).length + ' on it)');
});
