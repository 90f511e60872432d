'use strict';
// The failover drill, shared by test/js/ha-failover.test.js and
// bench/ha-failover.js: a master, two replicas, three Sentinels; our daemon
// configured with the Sentinels; consumers (Node clients, the C CLI
// `listen`) and two publishers at a steady rate; kill -9 of the master;
// optionally a second, planned failover back to the first master
// (restarted as a replica). Returns what happened; the caller judges.
const path = require('node:path');
const { spawnOwned } = require('./procs');
const h = require('./harness');
const ha = require('./ha-cluster');

const CLI = path.join(h.ROOT, h.BUILD, 'ganomede-events');
const PUBLISH_GAP_MS = 20;

function startCli(url, clientId, channel) {
  const wrap = process.env.GE_WRAP ? process.env.GE_WRAP.split(/\s+/).filter(Boolean) : [];
  const args = ['--client-id', clientId, 'listen', channel];
  const p = spawnOwned(wrap.length ? wrap[0] : CLI, wrap.length ? wrap.slice(1).concat([CLI], args) : args, {
    env: { PATH: process.env.PATH, GANOMEDE_EVENTS_URL: url, API_SECRET: h.SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r = { proc: p, stdout: '', stderr: '' };
  p.stdout.on('data', (d) => { r.stdout += d; });
  p.stderr.on('data', (d) => { r.stderr += d; });
  r.done = new Promise((resolve) => p.on('close', (code, signal) => resolve({ code, signal })));
  r.events = () => r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return r;
}

// Publishes {p, seq} every PUBLISH_GAP_MS until stop(); never retries a
// seq (a 503 is a failure the caller may count, not an event).
function publisher(url, channel, p) {
  const st = { acks: [], failures: [], stopped: false };
  st.done = (async () => {
    for (let seq = 1; !st.stopped; seq++) {
      const sent = Date.now();
      try {
        const r = await h.request(url, 'POST', '/events/v1/events',
          { secret: h.SECRET, clientId: 'ha-pub-' + p, channel, from: 'ha/v1', type: 'seq', data: { p, seq } });
        if (r.status === 200) st.acks.push({ id: r.json.id, p, seq, sent, at: Date.now() });
        else st.failures.push({ p, seq, sent, at: Date.now(), status: r.status, message: r.json && r.json.message });
      } catch (e) {
        st.failures.push({ p, seq, sent, at: Date.now(), status: 0, message: e.message });
      }
      await h.sleep(PUBLISH_GAP_MS);
    }
  })();
  return st;
}

// Publishes {p, seq} as publisher() does, through a Node Client's send,
// which gives each an Idempotency-Key and tries it again through the
// failover (docs/client.md): a seq is a failure only when every try failed.
function retryingPublisher(client, channel, p) {
  const st = { acks: [], failures: [], stopped: false };
  st.done = (async () => {
    for (let seq = 1; !st.stopped; seq++) {
      const sent = Date.now();
      const { err, res } = await new Promise((resolve) => client.send(channel,
        { from: 'ha/v1', type: 'seq', data: { p, seq } }, (err, res) => resolve({ err, res })));
      if (!err) st.acks.push({ id: res.id, p, seq, sent, at: Date.now() });
      else st.failures.push({ p, seq, sent, at: Date.now(), status: err.statusCode || 0, message: err.message });
      await h.sleep(PUBLISH_GAP_MS);
    }
  })();
  return st;
}

// opts: minReplicas (0), failback (true), consumers (true), log (fn),
// retrying (false: each publish is one POST; true: retryingPublisher).
async function runDrill(opts = {}) {
  const log = opts.log || (() => {});
  const res = { marks: {} };
  const cluster = await ha.startCluster({});
  let server = null;
  const clients = [];
  let cli = null;
  const pubs = [];
  try {
    const env = { REDIS_SENTINELS: cluster.sentinelList(), POLL_TIMEOUT: '1000', LOG_LEVEL: 'INFO' };
    if (opts.minReplicas) Object.assign(env, { PUBLISH_MIN_REPLICAS: String(opts.minReplicas), PUBLISH_REPLICA_TIMEOUT_MS: '1000' });
    server = await h.startServer({ env });
    if (opts.onServer) opts.onServer(server);
    const channel = h.unique('ha-drill');
    res.channel = channel;

    const consumers = {};
    const resets = {}; // per consumer: how many times it was told its cursor was reset
    if (opts.consumers !== false) {
      const { Client } = require('../..');
      for (const name of ['node1', 'node2']) {
        const seen = [];
        const c = new Client(h.unique('ha-' + name), { secret: h.SECRET, protocol: 'http', hostname: '127.0.0.1', port: server.port });
        let n = 0;
        c.on('error', (err) => { if (err.code === 'CursorReset') n++; });
        c.on(channel, (ev) => seen.push(ev));
        clients.push(c);
        consumers[name] = () => seen;
        resets[name] = () => n;
      }
      cli = startCli(server.url, h.unique('ha-cli'), channel);
      consumers.cli = () => cli.events();
      resets.cli = () => (cli.stderr.match(/warning: CursorReset/g) || []).length;
    }
    res.consumers = consumers;
    res.resets = resets;

    for (let p = 1; p <= 2; p++) {
      if (!opts.retrying) {
        pubs.push(publisher(server.url, channel, p));
        continue;
      }
      const { Client } = require('../..');
      const c = new Client('ha-pub-' + p, { secret: h.SECRET, hostname: '127.0.0.1', port: server.port,
        sendTries: 200, sendBackoff: 100, sendMaxBackoff: 500 });
      clients.push(c);
      pubs.push(retryingPublisher(c, channel, p));
    }
    const acked = () => pubs.reduce((n, x) => n + x.acks.length, 0);
    const ackedAfter = (t) => pubs.some((x) => x.acks.some((a) => a.at > t));
    const firstAckAfter = (t) => Math.min(...pubs.map((x) => (x.acks.find((a) => a.at > t) || { at: Infinity }).at));
    // Steady state, and every consumer has received something (the CLI
    // treats an error before its first answer as fatal).
    await ha.until(async () => acked() >= 20 && Object.values(consumers).every((f) => f().length > 0), 15000, 'steady publishing');

    // Failover 1: kill -9 of the master.
    const first = cluster.nodes[0];
    const killedAt = Date.now();
    res.marks.killedAt = killedAt;
    await first.kill('SIGKILL');
    log('master ' + first.port + ' killed');
    const promoted = await ha.until(async () => {
      for (const s of cluster.sentinels) {
        const port = await cluster.masterPort(s).catch(() => first.port);
        if (port !== first.port) return { port, at: Date.now() };
      }
      return false;
    }, 30000, 'a Sentinel to name a new master');
    res.promoteMs = promoted.at - killedAt;
    await ha.until(async () => ackedAfter(promoted.at), 15000, 'a publish answered 200 after the promotion');
    res.followMs = Math.max(0, firstAckAfter(promoted.at) - promoted.at);
    log(`promoted ${promoted.port} after ${res.promoteMs} ms, followed ${res.followMs} ms later`);

    if (opts.failback !== false) {
      // Failover 2, back to the first master, restarted as a replica of
      // the new one. The other replica is stopped first: Sentinel's
      // planned failover lets the old master accept writes until it is
      // demoted, and a replica still attached to it could confirm them
      // (WAIT) while the promoted one never gets them; with the promoted
      // replica the only one, such writes are refused (503), never lost.
      await h.sleep(500);
      const other = cluster.nodes.find((n) => n.port !== first.port && n.port !== promoted.port);
      await other.kill('SIGKILL');
      const restarted = await ha.startNode(first.port, first.dir, { replicaof: promoted.port });
      cluster.nodes[0] = restarted;
      await cluster.synced(promoted.port, 1);
      res.marks.failbackStartAt = Date.now();
      const asked = await ha.until(async () => {
        const r = await h.redisCommand(cluster.sentinels[0].port, 'SENTINEL', 'FAILOVER', ha.MASTER).catch((e) => e);
        return r === 'OK' ? Date.now() : false;
      }, 20000, 'Sentinel to accept a failover back to the first master');
      res.marks.failbackAskedAt = asked;
      const back = await ha.until(async () => ((await cluster.masterPort()) === first.port ? Date.now() : false),
        20000, 'the first master to be promoted again');
      res.promote2Ms = back - asked;
      // The demoted master is turned into a replica by Sentinel only after
      // its next INFO (up to 10 s); with PUBLISH_MIN_REPLICAS the new master
      // needs one: the stopped replica comes back, as an operator would.
      const i = cluster.nodes.indexOf(other);
      cluster.nodes[i] = await ha.startNode(other.port, other.dir, { replicaof: first.port });
      await ha.until(async () => ackedAfter(back), 15000, 'a publish answered 200 after the failover back');
      res.follow2Ms = Math.max(0, firstAckAfter(back) - back);
      log(`failover back promoted after ${res.promote2Ms} ms, followed ${res.follow2Ms} ms later`);
    }
    await h.sleep(500);
    for (const p of pubs) p.stopped = true;
    await Promise.all(pubs.map((p) => p.done));
    res.acks = [].concat(...pubs.map((p) => p.acks)).sort((a, b) => a.id - b.id);
    res.failures = [].concat(...pubs.map((p) => p.failures));
    res.masterPort = await cluster.masterPort();
    // What the final master holds for every acknowledged id.
    res.stored = {};
    for (const a of res.acks) {
      const v = await h.redisCommand(res.masterPort, 'GET', channel + ':' + a.id);
      res.stored[a.id] = v ? JSON.parse(v) : null;
    }
    res.lost = res.acks.filter((a) => { const s = res.stored[a.id]; return !s || s.data.p !== a.p || s.data.seq !== a.seq; });
    res.lastId = Number(await h.redisCommand(res.masterPort, 'GET', 'indices:' + channel));
    // Every event the final master holds, acknowledged or not (a publish
    // whose answer was lost in the failover may be stored).
    res.final = new Map();
    for (let id = 1; id <= res.lastId; id++) {
      const v = await h.redisCommand(res.masterPort, 'GET', channel + ':' + id);
      if (v) res.final.set(id, JSON.parse(v));
    }
    // Consumers catch up to the last stored id.
    if (opts.consumers !== false) {
      await ha.until(async () => Object.values(consumers).every((f) => { const e = f(); return e.length && e[e.length - 1].id >= res.lastId; }),
        20000, 'every consumer to receive up to id ' + res.lastId).catch((e) => { res.catchUpError = e.message; });
    }
    return res;
  } finally {
    for (const p of pubs) p.stopped = true;
    for (const c of clients) c.close();
    if (cli) { cli.proc.kill('SIGKILL'); await cli.done; }
    if (server) {
      res.metrics = await h.request(server.url, 'GET', '/metrics').then((m) => m.body, () => '');
      res.exit = await server.stop();
      res.serverLog = server.stdout;
    }
    await cluster.stop();
  }
}

module.exports = { runDrill };
