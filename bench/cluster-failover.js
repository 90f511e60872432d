'use strict';
// How long a kill -9 of a Redis Cluster master leaves its channels
// unserved: the drill of test/lib/cluster-drill.js (3 masters, 3 replicas,
// cluster-node-timeout 1000, two daemons, 1,000 channels, six publishers,
// two Node Clients and two CLI listens), kill -9 of one master, the
// cluster's own failover, without PUBLISH_MIN_REPLICAS (a shard that lost
// its replica serves publishes again as soon as its replica is promoted).
// Prints per drill and the medians of:
//   promotion  kill -9 -> the cluster map names the replica master
//   unserved   the first publish answered 503 on that master's channels ->
//              the first publish sent after it answered 200
//   lost       events answered 200 that the cluster no longer holds
//   others     how late the Node Clients (each on all 1,000 channels, one
//              multi-channel long-poll) received the events answered 200 on
//              the live masters' channels while the victim had no master
//
//   node bench/cluster-failover.js [--drills 3] [--lag-replica]
//
// --lag-replica makes the victim's replica lag before the kill (as the
// test does), so that the failover takes events back.
const { runClusterDrill } = require('../test/lib/cluster-drill');

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const drills = Number(arg('--drills', '3'));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

(async () => {
  const rows = [];
  for (let i = 1; i <= drills; i++) {
    const r = await runClusterDrill({ minReplicas: 0, recover: false, lagReplica: process.argv.includes('--lag-replica') });
    if (!r.unserved || r.unserved.ms === null) throw new Error('drill ' + i + ': the victim\'s channels were not refused then served');
    const late = r.othersDelay.map((d) => d.median);
    rows.push({ promote: r.promoteMs, unserved: r.unserved.ms, lost: r.lost.length, acked: r.acks.length, late: median(late),
      lateMax: Math.max(...r.othersDelay.map((d) => d.max)) });
    console.log(`drill ${i}: promotion ${r.promoteMs} ms after the kill, channels unserved ${r.unserved.ms} ms ` +
      `(first 503 to first 200), ${r.acks.length} publishes answered 200, ${r.lost.length} of them lost, ${r.failures.length} refused; ` +
      `the live masters' events reached the Clients after a median ${late.join(' and ')} ms (at most ${rows[rows.length - 1].lateMax} ms)` +
      (r.catchUpError ? '; ' + r.catchUpError : ''));
  }
  console.log(`median of ${drills}: promotion ${median(rows.map((x) => x.promote))} ms, unserved ` +
    `${median(rows.map((x) => x.unserved))} ms, the live masters' events late by ${median(rows.map((x) => x.late))} ms; lost ${rows.reduce((n, x) => n + x.lost, 0)} of ` +
    `${rows.reduce((n, x) => n + x.acked, 0)} answered 200 in all`);
})().catch((e) => { console.error(e); process.exit(1); });
