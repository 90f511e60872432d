'use strict';
// Names that collide in Redis (docs/protocol.md, "Redis layout", "Names
// collide"): channels, their counters, event keys and key sets, index
// definitions and lists, and cursors share one key space. A publish or a
// read that meets another name's key is a clear error and writes nothing;
// names that can only collide are refused with 400. Real daemon, real Redis.
const tap = require('tap');
const { REDIS_PORT, startServer, request, redisCommand, unique, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

const redis = (...a) => redisCommand(REDIS_PORT, ...a);
const publish = (server, channel, extra = {}) => request(server.url, 'POST', '/events/v1/events',
  Object.assign({ secret: server.secret, clientId: 'c', channel, from: 'f', type: 't' }, extra));

tap.test('a publish that cannot be stored is an error, and nothing is written', T, async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const ch = unique('lost');
  t.equal((await publish(server, ch, { data: { n: 1 } })).status, 200);
  // The counter is gone (an operator's DEL, a flush of one key...) while
  // event 1 is still there: the next id would overwrite nothing but
  // would never be stored either.
  await redis('DEL', 'indices:' + ch);
  const res = await publish(server, ch, { data: { n: 2 } });
  t.equal(res.status, 500, 'not acknowledged');
  t.equal(res.json.code, 'KeyCollision');
  t.match(res.json.message, ch + ':1 already exists');
  t.equal(await redis('GET', 'indices:' + ch), null, 'the counter is not advanced');
  t.same(JSON.parse(await redis('GET', ch + ':1')).data, { n: 1 }, 'event 1 untouched');
  t.equal(await redis('ZCARD', ch + ':keys'), 1);

  // A channel named like an index: its counter key holds the definition.
  const ix = unique('ix');
  t.equal((await request(server.url, 'POST', '/events/v1/indices',
    { secret: server.secret, id: ix, channel: 'c', field: 'data.x' })).json, 'OK');
  const res2 = await publish(server, ix);
  t.equal(res2.status, 500);
  t.equal(res2.json.code, 'KeyCollision');
  t.match(await redis('GET', 'indices:' + ix), /^\{"id"/, 'the definition is untouched');
  t.equal(await redis('EXISTS', ix + ':1'), 0);
  t.equal(await redis('EXISTS', ix + ':keys'), 0);
  t.equal(await redis('PING'), 'PONG');
});

tap.test('a key set or counter of another type: the publish is an error and undoes every write', T, async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  // A new channel whose key set is a string: no counter is left behind.
  const fresh = unique('ks');
  await redis('SET', fresh + ':keys', 'not a zset');
  let res = await publish(server, fresh);
  t.equal(res.status, 500);
  t.equal(res.json.code, 'KeyCollision');
  t.match(res.json.message, fresh + ':keys holds something other than the event list');
  t.equal(await redis('GET', 'indices:' + fresh), null, 'no counter');
  t.equal(await redis('EXISTS', fresh + ':1'), 0, 'no event key');
  t.equal(await redis('GET', fresh + ':keys'), 'not a zset', 'the string is untouched');
  // A channel with events whose key set is replaced: the counter stays.
  const old = unique('ks');
  t.equal((await publish(server, old)).status, 200);
  await redis('DEL', old + ':keys');
  await redis('HSET', old + ':keys', 'f', 'v');
  res = await publish(server, old);
  t.equal(res.json.code, 'KeyCollision');
  t.equal(await redis('GET', 'indices:' + old), '1', 'the counter is not advanced');
  t.equal(await redis('EXISTS', old + ':2'), 0, 'no event key');
  // A counter that is a hash.
  const hc = unique('ctr');
  await redis('HSET', 'indices:' + hc, 'f', 'v');
  res = await publish(server, hc);
  t.equal(res.json.code, 'KeyCollision');
  t.match(res.json.message, 'indices:' + hc + ' holds something other than the event counter');
  t.equal(await redis('EXISTS', hc + ':keys'), 0);
});

tap.test('an index id equal to a channel name is a conflict, not "exists"', T, async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const ch = unique('chix');
  t.equal((await publish(server, ch)).status, 200);
  const res = await request(server.url, 'POST', '/events/v1/indices',
    { secret: server.secret, id: ch, channel: 'other', field: 'data.x' });
  t.equal(res.status, 409);
  t.equal(res.json.code, 'KeyCollision');
  t.equal(await redis('GET', 'indices:' + ch), '1', 'the counter is untouched');
  t.equal((await publish(server, ch)).json.id, 2, 'the channel goes on');
  // The same id again on a real index is still the original's null.
  const ix = unique('ix');
  const def = { secret: server.secret, id: ix, channel: ch, field: 'data.x' };
  t.equal((await request(server.url, 'POST', '/events/v1/indices', def)).json, 'OK');
  t.equal((await request(server.url, 'POST', '/events/v1/indices', def)).json, null);
});

tap.test('reads that meet a key of the wrong type answer a clear error', T, async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const q = (p) => request(server.url, 'GET', p + (p.includes('?') ? '&' : '?') + 'secret=' + server.secret);
  const ch = unique('wt');
  await redis('SET', ch + ':keys', 'not a zset');
  for (const p of ['/events/v1/latest?channel=' + ch,
    '/events/v1/events?clientId=c&limit=500&after=0&channel=' + ch,
    '/events/v1/events?clientId=c&channel=' + ch]) {
    const res = await q(p);
    t.equal(res.status, 500, p);
    t.equal(res.json && res.json.code, 'KeyCollision', p);
  }
  // An index whose definition key is a channel's counter.
  const ch2 = unique('wt');
  await publish(server, ch2);
  let res = await q('/events/v1/indices/' + ch2 + '/v');
  t.equal(res.status, 500);
  t.equal(res.json.code, 'KeyCollision');
  t.match(res.json.message, 'indices:' + ch2);
  // An index list key taken by a string: the whole batch is refused, so
  // no value is listed twice once the key is freed.
  const ch3 = unique('wt'), ix = unique('ix');
  await request(server.url, 'POST', '/events/v1/indices', { secret: server.secret, id: ix, channel: ch3, field: 'data.v' });
  await publish(server, ch3, { data: { v: 'a' } });
  await publish(server, ch3, { data: { v: 'b' } });
  await redis('SET', 'index:' + ix + ':b', 'junk');
  res = await q('/events/v1/indices/' + ix + '/a');
  t.equal(res.status, 500);
  t.equal(res.json.code, 'KeyCollision');
  await redis('DEL', 'index:' + ix + ':b');
  res = await q('/events/v1/indices/' + ix + '/a');
  t.equal(res.status, 200);
  t.same(res.json.rows.map((e) => e.id), [1], 'event 1 listed once');
  t.equal((await request(server.url, 'GET', '/health')).status, 200, 'the daemon is still up');
});

tap.test('channel names that can only collide are refused with 400', T, async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  for (const ch of ['indices', 'indices:x', 'index:byu', 'last-fetched:c']) {
    let res = await publish(server, ch);
    t.equal(res.status, 400, 'publish ' + ch);
    t.equal(res.json.code, 'InvalidContent');
    t.match(res.json.message, /^Invalid Channel/);
    res = await request(server.url, 'GET', '/events/v1/events?secret=' + server.secret + '&clientId=c&channel=' + encodeURIComponent(ch));
    t.equal(res.status, 400, 'read ' + ch);
    res = await request(server.url, 'GET', '/events/v1/latest?secret=' + server.secret + '&channel=' + encodeURIComponent(ch));
    t.equal(res.status, 400, 'latest ' + ch);
    res = await request(server.url, 'POST', '/events/v1/indices', { secret: server.secret, id: unique('ix'), channel: ch, field: 'data.x' });
    t.equal(res.status, 400, 'index on ' + ch);
  }
  for (const ch of ['index', 'last-fetched', 'indices-x', 'a:index:b', '1', 'keys']) {
    t.equal((await publish(server, ch + '-' + unique(''))).status, 200, 'allowed: ' + ch);
  }
});
