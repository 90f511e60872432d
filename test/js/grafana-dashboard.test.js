'use strict';
// The Grafana dashboard (packaging/grafana-dashboard.json) against what a
// real daemon exports: every PromQL query names only metrics and labels
// of its /metrics (scraped with the consumer-lag selection on), and the
// file is a dashboard Grafana imports (panels, a data source variable).
const tap = require('tap');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, startServer, request, unique, sleep, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };
const FILE = path.join(ROOT, 'packaging', 'grafana-dashboard.json');
// Labels Prometheus adds to every series it scrapes.
const TARGET_LABELS = ['instance', 'job'];
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or',
  'unless', 'offset', 'inf', 'nan']);

// The metric families of a scrape: name -> the label names its series have.
function exported(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? /.exec(line);
    if (!m) continue;
    const labels = out.get(m[1]) || new Set();
    for (const l of (m[3] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1]);
    out.set(m[1], labels);
  }
  return out;
}

// The metric selectors of a PromQL expression: [{name, labels}], and the
// label names of its by/without/on clauses.
function selectors(expr) {
  const e = expr.replace(/\$\{?[a-zA-Z_]+\}?/g, '1m');
  const found = [];
  const grouping = [];
  for (const g of e.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g))
    grouping.push(...g[1].split(',').map((s) => s.trim()).filter(Boolean));
  const bare = e.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const re = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?/g;
  for (const m of bare.matchAll(re)) {
    const [, name, braces, call] = m;
    if (call && !braces) continue; // a function
    if (PROMQL_WORDS.has(name.toLowerCase()) || /^\d/.test(name)) continue;
    const labels = braces ? [...braces.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]) : [];
    found.push({ name, labels });
  }
  return { found, grouping };
}

function queries(dash) {
  const out = [];
  const walk = (panels) => {
    for (const p of panels || []) {
      for (const tg of p.targets || []) out.push({ where: 'panel "' + p.title + '" ' + tg.refId, expr: tg.expr });
      walk(p.panels);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(q);
    out.push({ where: 'variable $' + v.name, expr: m ? m[1] + '{' + m[2] + '=~".+"}' : q });
  }
  return out;
}

tap.test('the dashboard is one Grafana dashboard with panels over a Prometheus data source variable', T, async (t) => {
  const dash = JSON.parse(fs.readFileSync(FILE, 'utf8'));
  t.equal(typeof dash.title, 'string');
  t.equal(typeof dash.uid, 'string');
  t.ok(Number.isInteger(dash.schemaVersion) && dash.schemaVersion >= 30, 'a current schemaVersion');
  const ds = dash.templating.list.find((v) => v.type === 'datasource');
  t.ok(ds, 'a data source variable');
  t.equal(ds.query, 'prometheus');
  const panels = dash.panels.filter((p) => p.type !== 'row');
  t.ok(panels.length >= 6, 'panels');
  const ids = new Set();
  for (const p of dash.panels) {
    t.ok(Number.isInteger(p.id) && !ids.has(p.id), 'panel ' + p.title + ': a unique id');
    ids.add(p.id);
    t.ok(p.gridPos && ['h', 'w', 'x', 'y'].every((k) => Number.isInteger(p.gridPos[k])), 'panel ' + p.title + ': gridPos');
    t.ok(p.gridPos.x + p.gridPos.w <= 24, 'panel ' + p.title + ': within the 24 columns');
    if (p.type === 'row') continue;
    t.same(p.datasource, { type: 'prometheus', uid: '${' + ds.name + '}' }, 'panel ' + p.title + ': the variable');
    t.ok(Array.isArray(p.targets) && p.targets.length > 0, 'panel ' + p.title + ': queries');
    for (const tg of p.targets) t.same(tg.datasource, p.datasource);
  }
  const titles = panels.map((p) => p.title).join('\n');
  for (const want of [/Publishes per second/, /Requests by route and status/, /Latency p50/, /Latency p99/,
    /Long-polls waiting/, /Redis up per connection/, /Consumer lag/])
    t.match(titles, want);
});

tap.test('every query of the dashboard names metrics and labels the daemon exports', T, async (t) => {
  const prefix = unique();
  const s = await startServer({ env: { METRICS_LAG: prefix + '/*', METRICS_LAG_INTERVAL: '1' } });
  t.teardown(() => s.stop());
  const ch = prefix + '/x';
  await request(s.url, 'POST', '/events/v1/events', { secret: s.secret, clientId: 'p', channel: ch, from: 'f', type: 't' });
  await request(s.url, 'GET', `/events/v1/events?secret=${s.secret}&clientId=c&channel=${encodeURIComponent(ch)}&after=0`);
  let text = '';
  for (const end = Date.now() + limit(10000); Date.now() < end; await sleep(100)) {
    text = (await request(s.url, 'GET', '/metrics')).body;
    if (text.includes('ganomede_events_consumer_lag{')) break;
  }
  const metrics = exported(text);
  t.ok(metrics.has('ganomede_events_consumer_lag'), 'the scrape has the lag gauges');
  const dash = JSON.parse(fs.readFileSync(FILE, 'utf8'));
  const qs = queries(dash);
  t.ok(qs.length >= 10, 'queries found');
  for (const q of qs) {
    const { found, grouping } = selectors(q.expr);
    t.ok(found.length > 0, q.where + ': names a metric');
    const labels = new Set(TARGET_LABELS);
    for (const sel of found) {
      const have = metrics.get(sel.name);
      t.ok(have, q.where + ': ' + sel.name + ' is exported');
      if (!have) continue;
      for (const l of have) labels.add(l);
      for (const l of sel.labels) t.ok(have.has(l) || TARGET_LABELS.includes(l), q.where + ': ' + sel.name + ' has label ' + l);
    }
    if (/histogram_quantile/.test(q.expr)) t.ok(found.every((f) => f.name.endsWith('_bucket')), q.where + ': quantiles of buckets');
    for (const l of grouping) t.ok(labels.has(l), q.where + ': grouped by ' + l + ', a label of its metrics');
  }
  // The checker itself: a made-up name and label are caught.
  t.notOk(metrics.has(selectors('sum(rate(ganomede_events_nope_total[5m]))').found[0].name));
  t.same(selectors('max by (channel) (m{a="1",b=~"x"})'), { found: [{ name: 'm', labels: ['a', 'b'] }], grouping: ['channel'] });
});
