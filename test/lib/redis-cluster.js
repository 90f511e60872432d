'use strict';
// A real Redis Cluster on free loopback ports, for the cluster tests and
// benchmarks: redis-server --cluster-enabled yes (Debian's), joined with
// `redis-cli --cluster create`, waited for until every node says
// cluster_state:ok with every slot ok and every replica linked. The same as
// test/c/redis_cluster.h for the C tests. Servers die with the test process
// (spawnOwned); stop() kills them and removes the folder. Every wait has a
// deadline.
//
//   const c = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeout: 1000 });
//   c.seeds()                    '127.0.0.1:p1,127.0.0.1:p2,...'
//   await c.slotMaster(slot)     the port of the master serving slot
//   await c.replicaOf(port)      the port of a replica of that master
//   await c.kill(port)           kill -9 one node
//   await c.restart(port)        start a killed node again (same port, same nodes.conf):
//                                a failed-over master comes back as a replica
//   await c.migrateSlot(slot, from, to)  move a slot by hand, a few keys per MIGRATE
//   await c.healthy(ms)          wait for cluster_state:ok everywhere again
//   await c.stop()
const { execFile } = require('node:child_process');
const { spawnOwned, need } = require('./procs');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const h = require('./harness');

// A free loopback port below 55536 whose cluster bus port (+10000) is free too.
async function clusterPort() {
  const bindable = (port) => new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  for (let i = 0; i < 1000; i++) {
    const p = await h.freePort();
    if (p < 55536 && await bindable(p + 10000)) return p;
  }
  throw new Error('no free port pair for a cluster node');
}

function run(cmd, args, ms) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: h.limit(ms), killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(cmd + ' ' + args.join(' ') + ' failed: ' + err.message + '\n' + stdout + stderr));
      else resolve(stdout);
    });
  });
}

function field(info, name) {
  const m = new RegExp('^' + name + ':(.*)$', 'm').exec(info);
  return m ? m[1].trim() : undefined;
}

// Fewer than 3 masters, which `redis-cli --cluster create` refuses: the
// slots split evenly by hand, every node met, each replica given its master.
async function joinByHand(nodes, masters) {
  const ids = [];
  for (const n of nodes) ids.push(await h.redisCommand(n.port, 'CLUSTER', 'MYID'));
  for (let i = 0; i < masters; i++) {
    const lo = Math.floor(16384 * i / masters), hi = Math.floor(16384 * (i + 1) / masters) - 1;
    await h.redisCommand(nodes[i].port, 'CLUSTER', 'ADDSLOTSRANGE', lo, hi);
  }
  for (const n of nodes.slice(1)) await h.redisCommand(n.port, 'CLUSTER', 'MEET', '127.0.0.1', nodes[0].port);
  for (let i = masters; i < nodes.length; i++) {
    const master = ids[(i - masters) % masters];
    const end = Date.now() + h.limit(20000);
    for (;;) { // the replica must know its master first
      const r = await h.redisCommand(nodes[i].port, 'CLUSTER', 'REPLICATE', master).catch((e) => e);
      if (r === 'OK') break;
      if (Date.now() > end) throw new Error('CLUSTER REPLICATE failed: ' + r.message);
      await h.sleep(100);
    }
  }
}

// opts.masters (3), opts.replicas per master (1), opts.nodeTimeout ms (1000),
// opts.args: extra redis-server arguments for every node.
async function startRedisCluster(opts = {}) {
  need('redis-server', 'redis-cli');
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 1;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-cluster-'));
  const nodes = [];
  const alive = () => nodes.filter((n) => n.proc.exitCode === null && !n.proc.signalCode);
  const c = {
    dir, nodes,
    seeds: () => alive().map((n) => '127.0.0.1:' + n.port).join(','),
    async healthy(ms = 30000) {
      const end = Date.now() + h.limit(ms);
      for (;;) {
        let ok = true;
        for (const n of alive()) {
          const info = await h.redisCommand(n.port, 'CLUSTER', 'INFO').catch(() => '');
          const repl = await h.redisCommand(n.port, 'INFO', 'replication').catch(() => '');
          if (field(info, 'cluster_state') !== 'ok' || field(info, 'cluster_slots_ok') !== '16384' ||
              (field(repl, 'role') === 'slave' && field(repl, 'master_link_status') !== 'up')) { ok = false; break; }
        }
        if (ok && alive().length) return;
        if (Date.now() > end) throw new Error('the Redis Cluster was not healthy within ' + h.limit(ms) + ' ms');
        await h.sleep(50);
      }
    },
    // The port of the master serving slot, as the first live node sees it.
    async slotMaster(slot) {
      const shards = await h.redisCommand(alive()[0].port, 'CLUSTER', 'SHARDS');
      for (const sh of shards) {
        const f = Object.fromEntries(sh.reduce((a, v, i) => (i % 2 ? a[a.length - 1].push(v) : a.push([v]), a), []));
        let has = false;
        for (let i = 0; i < f.slots.length; i += 2) has = has || (slot >= f.slots[i] && slot <= f.slots[i + 1]);
        if (!has) continue;
        for (const nd of f.nodes) {
          const g = {};
          for (let i = 0; i < nd.length; i += 2) g[nd[i]] = nd[i + 1];
          if (g.role === 'master' && g.health !== 'failed') return g.port;
        }
      }
      return undefined;
    },
    async replicaOf(port) {
      const id = await h.redisCommand(port, 'CLUSTER', 'MYID');
      const lines = await h.redisCommand(port, 'CLUSTER', 'REPLICAS', id);
      return lines.length ? Number(/:(\d+)@/.exec(lines[0])[1]) : undefined;
    },
    async kill(port, sig = 'SIGKILL') {
      const n = nodes.find((x) => x.port === port);
      if (!n || n.proc.exitCode !== null || n.proc.signalCode) return;
      const done = new Promise((r) => n.proc.once('exit', r));
      n.proc.kill(sig);
      await done;
    },
    async restart(port) {
      const n = nodes.find((x) => x.port === port);
      await c.kill(port);
      n.proc = spawnOwned('redis-server', n.args, { stdio: 'ignore' });
      await h.waitPort(port);
    },
    // Move `slot` from the master at `from` to the one at `to`, opts.keys
    // keys per MIGRATE (3) with opts.pauseMs between them (5), so that
    // commands meet the slot half moved (ASK, TRYAGAIN), then moved (MOVED).
    async migrateSlot(slot, from, to, opts = {}) {
      const fromId = await h.redisCommand(from, 'CLUSTER', 'MYID');
      const toId = await h.redisCommand(to, 'CLUSTER', 'MYID');
      await h.redisCommand(to, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
      await h.redisCommand(from, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
      let moved = 0;
      for (;;) {
        const keys = await h.redisCommand(from, 'CLUSTER', 'GETKEYSINSLOT', slot, opts.keys ?? 3);
        if (!keys.length) break;
        await h.redisCommand(from, 'MIGRATE', '127.0.0.1', to, '', 0, 5000, 'KEYS', ...keys);
        moved += keys.length;
        await h.sleep(opts.pauseMs ?? 5);
      }
      for (const n of alive()) {
        if ((await h.redisCommand(n.port, 'ROLE'))[0] === 'master') await h.redisCommand(n.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
      }
      return moved;
    },
    async stop() {
      for (const n of nodes) await c.kill(n.port);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const port = await clusterPort();
      const args = ['--port', String(port), '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes-' + port + '.conf',
        '--cluster-node-timeout', String(opts.nodeTimeout ?? 1000), '--cluster-require-full-coverage', 'no',
        '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no',
        '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', ...(opts.args || [])];
      const proc = spawnOwned('redis-server', args, { stdio: 'ignore' });
      nodes.push({ port, proc, args });
      await h.waitPort(port);
    }
    if (masters >= 3) {
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => '127.0.0.1:' + n.port),
        '--cluster-replicas', String(replicas), '--cluster-yes'], 30000);
    } else {
      await joinByHand(nodes, masters);
    }
    await c.healthy();
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}

module.exports = { startRedisCluster };
