'use strict';
// A Redis high-availability set on free loopback ports, for the HA tests
// and benchmarks: real redis-server and redis-sentinel processes (Debian's),
// one master, replicas, Sentinels with a short down-after and failover
// timeout. Every wait here has a deadline.
const { spawnOwned } = require('./procs');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./harness');

const MASTER = 'mymaster';

async function until(cond, ms, what) {
  const end = Date.now() + h.limit(ms);
  for (;;) {
    const v = await cond().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out after ' + h.limit(ms) + ' ms waiting for ' + what);
    await h.sleep(20);
  }
}

// One redis-server; opts.replicaof = port of its master.
async function startNode(port, dir, opts = {}) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no', '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];
  if (opts.replicaof) args.push('--replicaof', '127.0.0.1', String(opts.replicaof));
  if (opts.priority !== undefined) args.push('--replica-priority', String(opts.priority));
  const proc = spawnOwned('redis-server', args, { stdio: 'ignore' });
  await h.waitPort(port);
  return { port, dir, proc, kill: (sig = 'SIGKILL') => stopProc(proc, sig) };
}

async function stopProc(proc, sig) {
  if (proc.exitCode !== null || proc.signalCode) return;
  const done = new Promise((r) => proc.once('exit', r));
  proc.kill(sig);
  await done;
}

async function startSentinel(port, dir, masterPort, opts = {}) {
  const conf = path.join(dir, 'sentinel-' + port + '.conf');
  fs.writeFileSync(conf, [
    'port ' + port,
    'bind 127.0.0.1',
    'dir ' + dir,
    'sentinel monitor ' + MASTER + ' 127.0.0.1 ' + masterPort + ' ' + (opts.quorum || 2),
    'sentinel down-after-milliseconds ' + MASTER + ' ' + (opts.downAfter || 1000),
    'sentinel failover-timeout ' + MASTER + ' ' + (opts.failoverTimeout || 2000),
    'sentinel parallel-syncs ' + MASTER + ' 2',
    opts.password ? 'requirepass ' + opts.password : '',
    '',
  ].join('\n'));
  const proc = spawnOwned('redis-sentinel', [conf], { stdio: 'ignore' });
  await h.waitPort(port);
  return { port, proc, kill: (sig = 'SIGKILL') => stopProc(proc, sig) };
}

// opts.replicas (2), opts.sentinels (3), opts.quorum (2).
async function startCluster(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-ha-'));
  const nodes = [];
  const sentinels = [];
  const c = {
    dir, nodes, sentinels,
    sentinelList: () => sentinels.map((s) => '127.0.0.1:' + s.port).join(','),
    // The master's port as Sentinel s (default the first) sees it.
    async masterPort(s = sentinels[0]) {
      const a = await h.redisCommand(s.port, 'SENTINEL', 'get-master-addr-by-name', MASTER);
      return Number(a[1]);
    },
    async role(port) { return (await h.redisCommand(port, 'ROLE'))[0]; },
    // `count` replicas of `masterPort` linked and past their first sync.
    async synced(masterPort, count) {
      return until(async () => {
        const info = await h.redisCommand(masterPort, 'INFO', 'replication');
        if (!/role:master/.test(info)) return false;
        const online = info.split('\n').filter((l) => /^slave\d+:.*state=online/.test(l));
        return online.length >= count;
      }, 15000, count + ' replicas online at ' + masterPort);
    },
    async stop() {
      for (const s of sentinels) await s.kill('SIGKILL');
      for (const n of nodes) await n.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    const ports = [];
    for (let i = 0; i < 1 + (opts.replicas ?? 2); i++) ports.push(await h.freePort());
    nodes.push(await startNode(ports[0], fs.mkdtempSync(path.join(dir, 'n'))));
    for (let i = 1; i < ports.length; i++) nodes.push(await startNode(ports[i], fs.mkdtempSync(path.join(dir, 'n')), { replicaof: ports[0] }));
    if (ports.length > 1) await c.synced(ports[0], ports.length - 1);
    for (let i = 0; i < (opts.sentinels ?? 3); i++) {
      sentinels.push(await startSentinel(await h.freePort(), dir, ports[0], opts));
    }
    // Every Sentinel knows the others and the replicas before a drill
    // (not checked with a Sentinel password: this little client has no AUTH).
    if (!opts.password) await until(async () => {
      for (const s of sentinels) {
        const m = await h.redisCommand(s.port, 'SENTINEL', 'master', MASTER);
        const f = {};
        for (let i = 0; i < m.length; i += 2) f[m[i]] = m[i + 1];
        if (Number(f['num-other-sentinels']) !== sentinels.length - 1 || Number(f['num-slaves']) !== ports.length - 1) return false;
      }
      return true;
    }, 20000, 'the Sentinels to discover each other and the replicas');
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}

module.exports = { MASTER, until, startNode, startSentinel, startCluster };
