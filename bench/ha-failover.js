'use strict';
// Failover follow time: the drill of test/lib/ha-drill.js (a
// master, two replicas, three Sentinels with down-after-milliseconds 1000,
// two publishers every 20 ms), kill -9 of the master, N times for each
// PUBLISH_MIN_REPLICAS setting. Prints per drill and the medians of:
//   promotion  kill -9 -> a Sentinel names the new master
//   follow     that moment -> the first publish answered 200 after it
//   lost       events answered 200 that the new master does not hold
//              (or holds a different event under their id)
//
// Each drill then fails back to the first master (restarted as a replica)
// with Sentinel's planned failover (SENTINEL FAILOVER), during which the
// old master still accepts writes until it is demoted: that is where
// acknowledged events are lost without PUBLISH_MIN_REPLICAS.
//
// --consumers adds the drill's consumers (two Node clients, the CLI) and
// counts, per consumer: events the final master holds that it never
// received (skipped: must be 0), and the cursor resets it was told of.
//
//   node bench/ha-failover.js [--drills 5] [--min-replicas 0,1] [--consumers]
const { runDrill } = require('../test/lib/ha-drill');

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const drills = Number(arg('--drills', '5'));
const settings = arg('--min-replicas', '0,1').split(',').map(Number);
const withConsumers = process.argv.includes('--consumers');
const missed = (r) => Object.entries(r.consumers).map(([name, f]) => {
  const got = new Set(f().map((e) => e.id + '/' + e.data.p + '/' + e.data.seq));
  const skipped = [...r.final.entries()].filter(([id, e]) => !got.has(id + '/' + e.data.p + '/' + e.data.seq)).length;
  return `${name} skipped ${skipped}, told ${r.resets[name]()} reset(s)`;
}).join(', ');
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

(async () => {
  for (const mr of settings) {
    const rows = [];
    for (let i = 1; i <= drills; i++) {
      const r = await runDrill({ minReplicas: mr, consumers: withConsumers });
      rows.push({ promote: r.promoteMs, follow: r.followMs, promote2: r.promote2Ms, follow2: r.follow2Ms, acked: r.acks.length, lost: r.lost.length, refused: r.failures.length });
      console.log(`PUBLISH_MIN_REPLICAS=${mr} drill ${i}: promotion ${r.promoteMs} ms, follow ${r.followMs} ms; back: promotion ${r.promote2Ms} ms, follow ${r.follow2Ms} ms; ` +
        `${r.acks.length} acknowledged, ${r.lost.length} of them lost, ${r.failures.length} refused` +
        (withConsumers ? `; consumers: ${missed(r)}` : ''));
    }
    console.log(`PUBLISH_MIN_REPLICAS=${mr} median of ${drills}: promotion ${median(rows.map((x) => x.promote))} ms, ` +
      `follow ${median(rows.map((x) => x.follow))} ms; back: promotion ${median(rows.map((x) => x.promote2))} ms, ` +
      `follow ${median(rows.map((x) => x.follow2))} ms; lost ${rows.reduce((n, x) => n + x.lost, 0)} of ` +
      `${rows.reduce((n, x) => n + x.acked, 0)} acknowledged in all`);
  }
})().catch((e) => { console.error(e); process.exit(1); });
