'use strict';
// `ganomede-events-server copy`: a single Redis filled through the daemon
// (original layout) copied into a real Redis Cluster (cluster layout), then
// a daemon on the cluster: consumers resume where they were, latest and the
// index keys answer the same; a copy killed mid-way and run again ends the
// same; --verify finds what was removed from the target; newer target data
// is kept; bad ends are refused with a clear error and nothing written.
const t = require('tap');
const { spawn } = require('node:child_process');
const h = require('../lib/harness');
const { startRedisCluster } = require('../lib/redis-cluster');

const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
const get = (s, o) => h.request(s.url, 'GET', '/events/v1/events?' + q(Object.assign({ secret: s.secret }, o)));
const latest = (s, channel) => h.request(s.url, 'GET', '/events/v1/latest?' + q({ secret: s.secret, channel, limit: 1000 }));
const tag = (ch) => '{' + (ch === '' ? '%' : ch.replace(/%/g, '%25').replace(/\{/g, '%7B').replace(/\}/g, '%7D')) + '}';

async function publish(s, channel, data) {
  const r = await h.request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data });
  if (r.status !== 200) throw new Error('publish ' + r.status + ' ' + r.body);
  return r.json;
}

// The copy command: resolves { code, stdout, stderr, lines } (lines: the
// per-channel report lines by channel name).
function copy(args, opts = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(h.DAEMON, ['copy', ...args], { env: Object.assign({ PATH: process.env.PATH, LOG_LEVEL: 'INFO' }, opts.env || {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), h.limit(120000));
    if (opts.onStart) opts.onStart(p);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      const lines = {};
      for (const l of stdout.split('\n')) {
        const m = /^(ok|MISMATCH)\s+events (\d+)\/(\d+) differ (\d+)\s+last (\d+)\/(\d+)\s+cursors (\d+)\/(\d+)\s+consumers (\d+)\/(\d+)\s+rows (\d+)\/(\d+)\s+(".*")$/.exec(l);
        if (m) lines[JSON.parse(m[13])] = { ok: m[1] === 'ok', events: [+m[2], +m[3]], differ: +m[4], last: [+m[5], +m[6]], cursors: [+m[7], +m[8]], consumers: [+m[9], +m[10]], rows: [+m[11], +m[12]] };
      }
      resolve({ code, signal, stdout, stderr, lines });
    });
  });
}

const hostile = ['a{b', '}x{', 'c:d', 'd', '{}', 'with spaces and : colons', '{x}:keys', 'p%q', 'x:y:z'];
const big = h.unique('big');
const BIG = 6000;
const clients = ['c1', 'k:c', 'sp ace{}'];
let redis, cluster, single, onCluster;
const state = {}; // channel -> { n, cursors: {client: id} }

t.before(async () => {
  redis = await h.startRedis();
  cluster = await startRedisCluster({ masters: 3, replicas: 0 });
  single = await h.startServer({ redisPort: redis.port });
});
t.teardown(async () => {
  if (onCluster) await onCluster.stop();
  if (single) await single.stop();
  if (cluster) await cluster.stop();
  if (redis) await redis.stop();
});

const from = () => 'redis://127.0.0.1:' + redis.port;
const to = () => 'redis-cluster://' + cluster.seeds();
async function masterOf(key) {
  return cluster.slotMaster(await h.redisCommand(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', key));
}
async function clusterKeys() {
  let n = 0;
  for (const nd of cluster.nodes) n += await h.redisCommand(nd.port, 'DBSIZE');
  return n;
}

t.test('copy: the single Redis filled through the daemon', { timeout: h.limit(180000) }, async (t) => {
  const channels = hostile.concat([h.unique('plain')]);
  for (const [i, ch] of channels.entries()) {
    const n = 3 + i;
    for (let k = 1; k <= n; k++) await publish(single, ch, { k, who: 'u' + (k % 2) });
    state[ch] = { n, cursors: {} };
    for (const [j, c] of clients.entries()) {
      const ack = 1 + ((i + j) % (n - 1));
      const r = await get(single, { clientId: c, channel: ch, after: ack });
      t.equal(r.status, 200);
      state[ch].cursors[c] = ack;
    }
  }
  // A bigger channel, for the interrupted copy.
  for (let k = 0; k < BIG; k += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, j) => publish(single, big, { k: k + j })));
  }
  state[big] = { n: BIG, cursors: {} };
  await get(single, { clientId: 'c1', channel: big, after: 10 });
  state[big].cursors.c1 = 10;
  // An index, brought up to date by a query.
  const plain = channels[channels.length - 1];
  const d = await h.request(single.url, 'POST', '/events/v1/indices', { secret: single.secret, id: 'by:who', channel: plain, field: 'data.who' });
  t.equal(d.status, 200, 'index defined');
  const rows = await h.request(single.url, 'GET', '/events/v1/indices/by%3Awho/u1?secret=' + single.secret);
  t.equal(rows.status, 200);
  t.ok(rows.json.rows.length > 0, 'index rows');
  state.index = { id: 'by:who', channel: plain, rows: rows.json.rows };
  t.equal(await h.redisCommand(redis.port, 'GET', 'indices:' + big), String(BIG), 'the original layout');
});

t.test('copy: killed mid-way, run again: every event once, nothing doubled', { timeout: h.limit(180000) }, async (t) => {
  const tk = tag(big) + ':keys';
  const port = await masterOf(tk);
  let atKill = -1;
  const killed = await copy(['--from', from(), '--to', to(), '--page', '10'], {
    onStart: (p) => {
      const poll = async () => {
        for (;;) {
          if (p.exitCode !== null || p.signalCode) return;
          const n = await h.redisCommand(port, 'ZCARD', tk).catch(() => 0);
          if (n > 0) { atKill = n; p.kill('SIGKILL'); return; }
          await h.sleep(1);
        }
      };
      poll();
    },
  });
  t.equal(killed.signal, 'SIGKILL', 'the first copy was killed');
  t.ok(atKill > 0 && atKill < BIG, 'killed while copying the big channel (' + atKill + ' of ' + BIG + ')');
  const partial = await h.redisCommand(port, 'ZCARD', tk);
  t.ok(partial < BIG, 'the big channel is partly copied (' + partial + ')');
  t.equal(partial % 10, 0, 'whole pages only');

  const again = await copy(['--from', from(), '--to', to(), '--page', '10']);
  t.equal(again.code, 0, 'the second copy succeeds: ' + again.stderr.slice(-500));
  t.match(again.stdout, /^SAME: \d+ channels, 0 differ/m, 'the summary');
  t.same(again.lines[big], { ok: true, events: [BIG, BIG], differ: 0, last: [BIG, BIG], cursors: [1, 1], consumers: [1, 1], rows: [0, 0] }, 'the big channel');
  for (const ch of Object.keys(state).filter((c) => c !== 'index' && c !== big)) {
    const l = again.lines[ch];
    t.ok(l && l.ok, ch + ': same');
    t.ok(l && l.cursors[0] >= clients.length, ch + ': its cursors');
  }
  t.equal(await h.redisCommand(port, 'ZCARD', tk), BIG, 'no event doubled');
  // The log: bunyan lines with the speed.
  const done = again.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.ok(done.every((l) => l.name === 'events' && typeof l.level === 'number' && l.msg), 'bunyan lines');
  t.ok(done.some((l) => typeof l.eventsPerSecond === 'number'), 'the speed is logged');
});

t.test('copy: a first pass while publishing and reading (--no-verify), a final pass once stopped: the same', { timeout: h.limit(120000) }, async (t) => {
  const live = h.unique('live');
  let n = 0, stop = false, acked = 0, stored = 0;
  await publish(single, live, { k: ++n });
  const writer = (async () => {
    while (!stop) {
      await publish(single, live, { k: ++n });
      stored = acked; // the cursor a read with after stores
      const r = await get(single, { clientId: 'reader', channel: live, after: acked });
      if (r.json.length) acked = r.json[r.json.length - 1].id;
    }
  })();
  let passes = 0;
  while (passes < 3 || n < 50) {
    const first = await copy(['--from', from(), '--to', to(), '--no-verify']);
    t.equal(first.code, 0, 'a pass while publishing: ' + first.stderr.slice(-300));
    t.equal(first.stdout, '', '--no-verify reports nothing');
    passes++;
  }
  stop = true;
  await writer;
  const last = await copy(['--from', from(), '--to', to()]);
  t.equal(last.code, 0, 'the final pass: the same');
  t.same(last.lines[live].events, [n, n], 'every event of the live channel');
  t.same(last.lines[live].cursors, [1, 1], 'its reader\'s cursor');
  state[live] = { n, cursors: { reader: stored } };
  t.ok(n > 50 && stored > 0, n + ' events published, ' + stored + ' acknowledged while copying');
});

t.test('copy: a daemon on the cluster continues where the single Redis was', { timeout: h.limit(120000) }, async (t) => {
  onCluster = await h.startServer({ env: { REDIS_URL: to() } });
  for (const ch of Object.keys(state).filter((c) => c !== 'index')) {
    const st = state[ch];
    for (const [c, ack] of Object.entries(st.cursors)) {
      const a = await get(onCluster, { clientId: c, channel: ch, limit: 100000 });
      t.equal(a.status, 200, ch + ' ' + c);
      const ids = a.json.map((e) => e.id);
      t.same(ids, Array.from({ length: st.n - ack }, (_, i) => ack + 1 + i), ch + ' ' + c + ': resumes after ' + ack);
      const b = await get(single, { clientId: c, channel: ch, limit: 100000 });
      t.same(a.json, b.json, ch + ' ' + c + ': the events the single Redis answers');
    }
    const la = await latest(onCluster, ch), lb = await latest(single, ch);
    t.same(la.json, lb.json, ch + ': latest');
    const next = await publish(onCluster, ch, { k: 'after' });
    t.equal(next.id, st.n + 1, ch + ': the ids continue');
    st.n++;
  }
  // The index: its definition and rows in the cluster layout.
  const ix = state.index;
  const def = await h.redisCommand(redis.port, 'GET', 'indices:' + ix.id);
  const dkey = tag(ix.id) + 'index';
  t.equal(await h.redisCommand(await masterOf(dkey), 'GET', dkey), def, 'the index definition');
  const lkey = tag(ix.channel) + ':index:' + Buffer.byteLength(ix.id) + ':' + ix.id + ':u1';
  const lport = await masterOf(lkey);
  t.same(await h.redisCommand(lport, 'LRANGE', lkey, 0, -1), await h.redisCommand(redis.port, 'LRANGE', 'index:' + ix.id + ':u1', 0, -1), 'the index rows');
  t.equal(await h.redisCommand(lport, 'GET', tag(ix.channel) + ':position:' + ix.id), await h.redisCommand(redis.port, 'GET', 'last-fetched:' + ix.id + ':' + ix.channel), 'the index position');
  t.equal(await h.redisCommand(lport, 'ZCARD', tag(ix.channel) + ':consumers'), clients.length, 'the consumers registry');
});

t.test('copy: run again after the switch, newer data in the target is kept', { timeout: h.limit(120000) }, async (t) => {
  const ch = hostile[0];
  const r = await get(onCluster, { clientId: 'c1', channel: ch, after: state[ch].n });
  t.equal(r.status, 200);
  const again = await copy(['--from', from(), '--to', to()]);
  t.equal(again.code, 1, 'the target holds more than the source: a mismatch');
  t.same(again.lines[ch].last, [state[ch].n - 1, state[ch].n], 'the newer counter kept');
  const tg = tag(ch);
  const port = await masterOf(tg + ':last');
  t.equal(await h.redisCommand(port, 'GET', tg + ':cursor:c1'), String(state[ch].n), 'the newer cursor kept');
  const ev = await latest(onCluster, ch);
  t.same(ev.json[ev.json.length - 1].data, { k: 'after' }, 'the newer event kept');
});

t.test('copy --verify: a removed event or cursor is found, a copy puts it back', { timeout: h.limit(120000) }, async (t) => {
  await onCluster.stop();
  onCluster = null;
  // A target fresh from a copy.
  for (const nd of cluster.nodes) await h.redisCommand(nd.port, 'FLUSHALL');
  const first = await copy(['--from', from(), '--to', to()]);
  t.equal(first.code, 0, first.stderr.slice(-300));
  const ok = await copy(['--from', from(), '--to', to(), '--verify']);
  t.equal(ok.code, 0, '--verify: the same');
  t.notMatch(ok.stderr, /copied:/, '--verify copies nothing');
  const ch = 'with spaces and : colons', tg = tag(ch);
  const port = await masterOf(tg + ':last');
  await h.redisCommand(port, 'DEL', tg + ':2');
  await h.redisCommand(port, 'DEL', tg + ':cursor:c1');
  const bad = await copy(['--from', from(), '--to', to(), '--verify']);
  t.equal(bad.code, 1, '--verify exits 1');
  t.match(bad.stdout, /^MISMATCH/m);
  t.equal(bad.lines[ch].ok, false);
  t.equal(bad.lines[ch].differ, 1, 'the removed event');
  t.equal(bad.lines[ch].cursors[1], bad.lines[ch].cursors[0] - 1, 'the removed cursor');
  t.equal(await h.redisCommand(port, 'EXISTS', tg + ':2'), 0, '--verify wrote nothing');
  t.ok(Object.entries(bad.lines).every(([c, l]) => c === ch || l.ok), 'only that channel differs');
  const fixed = await copy(['--from', from(), '--to', to(), '--full']);
  t.equal(fixed.code, 0, 'copy --full puts them back');
  t.equal(await h.redisCommand(port, 'GET', tg + ':cursor:c1'), String(state[ch].cursors.c1));
});

t.test('copy: bad ends are refused, nothing written, no password shown', { timeout: h.limit(120000) }, async (t) => {
  const closed = await h.freePort();
  const before = await clusterKeys();
  const dbsize = await h.redisCommand(redis.port, 'DBSIZE');
  const cases = [
    [['--from', 'redis://:sekrit@127.0.0.1:' + closed, '--to', to()], /cannot reach the source Redis 127\.0\.0\.1:\d+/],
    [['--from', from(), '--to', 'redis-cluster://:sekrit@127.0.0.1:' + closed], /cannot reach any node of the target cluster/],
    [['--from', from(), '--to', 'redis-cluster://127.0.0.1:' + redis.port], /is not a Redis Cluster node/],
    [['--from', 'redis://127.0.0.1:' + cluster.nodes[0].port, '--to', to()], /is a Redis Cluster node/],
    [['--from', 'http://sekrit@x', '--to', to()], /--from is not redis:\/\//],
    [['--from', from(), '--to', from()], /--to is a redis-cluster:\/\/ URL/],
    [['--from', 'redis-cluster://127.0.0.1:' + cluster.nodes[0].port, '--to', to()], /--from is the single Redis/],
    [['--from', from()], /--from and --to are required/],
    [['--from', from(), '--to', to(), '--page', '0'], /--page must be/],
    [['--from', from(), '--to', to(), '--verify', '--no-verify'], /exclude each other/],
  ];
  for (const [args, re] of cases) {
    const r = await copy(args);
    t.equal(r.code, 2, args.join(' ') + ': exit 2');
    t.match(r.stderr, re, args.join(' '));
    t.notMatch(r.stderr + r.stdout, /sekrit/, 'no password shown');
  }
  t.equal(await clusterKeys(), before, 'nothing written to the cluster');
  t.equal(await h.redisCommand(redis.port, 'DBSIZE'), dbsize, 'nothing written to the single Redis');
  // The URLs may come from the environment (out of ps).
  const env = await copy(['--verify'], { env: { COPY_FROM_URL: from(), COPY_TO_URL: to() } });
  t.equal(env.code, 0, 'COPY_FROM_URL and COPY_TO_URL are read: ' + env.stderr.slice(-300));
});
