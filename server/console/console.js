// The console page: asks for the secret, then shows the daemon's request
// rates and Redis state (/metrics), the channels (/channels), a selected
// channel's consumers and their lag (/consumers) with a chart, a live
// tail (/stream without a clientId: it stores nothing), and a form to
// publish a test event. Everything is read through the API with the
// secret in an Authorization header (api.js).
'use strict';
(function () {
  const { Api } = window.geApi;
  const { readStream } = window.geSse;
  const prom = window.geProm;

  const BASE = location.pathname.replace(/\/console\/?$/, ''); // "/events/v1"
  const SECRET_KEY = 'ganomede-events-console-secret';
  const TICK_MS = 1000;          // metrics and the selected channel's consumers
  const CHANNELS_MS = 3000;      // the channel list (a SCAN walk)
  const HISTORY_MS = 10 * 60000; // what the chart keeps
  const RETRY_MS = 2000;         // the tail's reconnection
  const TAIL_MAX = 200;          // events the tail keeps
  const BEHIND_MS = 10000;       // a consumer whose oldest unacked event is older is behind

  const $ = (id) => document.getElementById(id);
  let api = null;
  let timers = [];
  let selected = null;
  let prevMetrics = null;
  const channelHistory = new Map(); // channel -> [{t, last}]
  let chart = null;
  let series = [[], [], [], []];    // time (s), total lag, max lag, events/s
  let tail = null;                  // {ctl, channel}

  // ---- small DOM helpers ------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  const num = (v) => el('td', { class: 'num' }, v);
  function fill(tbody, rows) { tbody.replaceChildren(...rows); }
  const fmtMs = (ms) => (ms == null ? '—' : ms < 1000 ? Math.round(ms) + ' ms' : ms < 120000 ? (ms / 1000).toFixed(1) + ' s' : Math.round(ms / 60000) + ' min');
  const fmtRate = (r) => (r == null ? '—' : r < 10 ? r.toFixed(2) : r.toFixed(0));
  const time = (ms) => new Date(ms).toLocaleTimeString();

  // ---- connection state -------------------------------------------------------

  // One message at a time: the wrong secret, a daemon that does not answer.
  function banner(text) {
    $('banner').textContent = text || '';
    $('banner').hidden = !text;
  }
  function state(kind, text) {
    $('state').className = 'state ' + kind;
    $('state').textContent = text;
    document.body.dataset.state = kind;
  }

  let downSince = null;
  function failed(err) {
    if (err.kind === 'auth') return wrongSecret();
    if (err.kind === 'down') {
      if (!downSince) downSince = Date.now();
      state('down', 'daemon not answering');
      banner('The daemon is not answering (' + err.message + ') since ' + time(downSince) + '. Retrying…');
      return;
    }
    banner(err.message); // another error answer: said, the page goes on
  }
  function answered() {
    if (!downSince && document.body.dataset.state === 'live') return;
    downSince = null;
    banner('');
    state('live', 'connected to ' + location.host);
  }

  function wrongSecret() {
    stop();
    sessionStorage.removeItem(SECRET_KEY);
    $('main').hidden = true;
    $('login').hidden = false;
    $('forget').hidden = true;
    state('auth', 'wrong secret');
    banner('Wrong secret: the daemon refused it (401 Invalid credentials). Enter this daemon\'s API_SECRET.');
    $('secret').focus();
  }

  async function connect(secret) {
    const candidate = new Api(BASE, secret);
    try {
      await candidate.get('/channels', { limit: 1 });
    } catch (e) {
      // The secret is checked before parameters and Redis: any answer but 401 accepts it.
      if (e.kind === 'auth' || e.kind === 'down') return failed(e);
    }
    api = candidate;
    sessionStorage.setItem(SECRET_KEY, secret);
    $('login').hidden = true;
    $('main').hidden = false;
    $('forget').hidden = false;
    answered();
    start();
  }

  function start() {
    const every = (ms, fn) => { fn(); timers.push(setInterval(fn, ms)); };
    every(TICK_MS, () => guard(refreshMetrics));
    every(CHANNELS_MS, () => guard(refreshChannels));
    every(TICK_MS, () => selected && guard(refreshConsumers));
  }
  function stop() {
    for (const t of timers) clearInterval(t);
    timers = [];
    stopTail();
    api = null;
  }
  // Runs one refresh; a failure sets the page's state (never a blank page).
  async function guard(fn) {
    if (!api) return;
    try {
      await fn();
      answered();
    } catch (e) {
      if (e.kind) failed(e);
      else console.error(e);
    }
  }

  // ---- /metrics ------------------------------------------------------------

  function routeTotals(samples) {
    const by = new Map();
    const get = (r) => by.get(r) || (by.set(r, { count: 0, sum: 0, dcount: 0, buckets: [] }), by.get(r));
    for (const s of samples) {
      const r = s.labels.route;
      if (!r) continue;
      if (s.name === 'ganomede_events_requests_total') get(r).count += s.value;
      else if (s.name === 'ganomede_events_request_duration_seconds_sum') get(r).sum = s.value;
      else if (s.name === 'ganomede_events_request_duration_seconds_count') get(r).dcount = s.value;
      else if (s.name === 'ganomede_events_request_duration_seconds_bucket') get(r).buckets.push([Number(s.labels.le), s.value]);
    }
    return by;
  }

  // The upper bound of the bucket holding the 99th percentile of what was
  // answered between two snapshots.
  function p99(now, before) {
    const total = now.dcount - (before ? before.dcount : 0);
    if (total <= 0) return null;
    for (let i = 0; i < now.buckets.length; i++) {
      const d = now.buckets[i][1] - (before && before.buckets[i] ? before.buckets[i][1] : 0);
      if (d >= 0.99 * total) return now.buckets[i][0];
    }
    return Infinity;
  }

  async function refreshMetrics() {
    const samples = prom.parse(await api.get('/metrics', undefined, { text: true }));
    const t = Date.now();
    const routes = routeTotals(samples);
    const prev = prevMetrics;
    prevMetrics = { t, routes };
    const dt = prev ? (t - prev.t) / 1000 : 0;
    const rows = [];
    for (const [name, r] of [...routes].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
      if (!r.count) continue;
      const b = prev && prev.routes.get(name);
      const dn = b ? r.dcount - b.dcount : 0;
      const rate = prev && dt > 0 ? (r.count - (b ? b.count : 0)) / dt : null;
      const mean = dn > 0 ? ((r.sum - b.sum) / dn) * 1000 : null;
      const q = p99(r, b);
      rows.push(el('tr', {}, el('td', {}, name), num(fmtRate(rate)), num(fmtMs(mean)),
        num(q == null ? '—' : q === Infinity ? '> max' : fmtMs(q * 1000)), num(r.count)));
    }
    fill($('routes').tBodies[0], rows);
    const v = (n, l) => prom.value(samples, n, l);
    const pill = (ok, text) => el('span', { class: 'pill ' + (ok === undefined ? '' : ok ? 'ok' : 'bad') }, text);
    $('redis').replaceChildren(
      pill(v('ganomede_events_redis_up', { connection: 'commands' }) === 1, 'Redis commands ' + (v('ganomede_events_redis_up', { connection: 'commands' }) === 1 ? 'up' : 'down')),
      pill(v('ganomede_events_redis_up', { connection: 'pubsub' }) === 1, 'pub/sub ' + (v('ganomede_events_redis_up', { connection: 'pubsub' }) === 1 ? 'up' : 'down')),
      pill(v('ganomede_events_redis_writable') === 1, v('ganomede_events_redis_writable') === 1 ? 'writable' : 'not writable'),
      pill(undefined, 'streams open ' + v('ganomede_events_streams_open')),
      pill(undefined, 'long-polls waiting ' + v('ganomede_events_longpolls_waiting')),
      pill(undefined, 'published ' + v('ganomede_events_published_total')),
      pill(undefined, 'up ' + fmtMs(v('ganomede_events_uptime_seconds') * 1000)));
  }

  // ---- channels ------------------------------------------------------------

  // Events per second from the last ids seen over the past ~10 s.
  function noteLast(channel, last, t) {
    const h = channelHistory.get(channel) || [];
    h.push({ t, last });
    while (h.length > 2 && t - h[0].t > HISTORY_MS) h.shift();
    channelHistory.set(channel, h);
    const from = h.find((x) => t - x.t <= 10000 + TICK_MS) || h[0];
    return from && t > from.t ? ((last - from.last) * 1000) / (t - from.t) : null;
  }

  async function refreshChannels() {
    let list;
    try {
      list = await api.channels();
    } catch (e) {
      if (e.kind !== 'http') throw e;
      $('channels-note').textContent = e.message; // e.g. a cluster-mode daemon
      return;
    }
    const t = Date.now();
    $('channels-note').textContent = list.length + ' channel' + (list.length === 1 ? '' : 's');
    fill($('channels').tBodies[0], list.map((c) => {
      const tr = el('tr', { 'data-channel': c.channel, class: c.channel === selected ? 'selected' : '' },
        el('td', {}, el('code', {}, c.channel)), num(c.last), num(c.retained), num(fmtRate(noteLast(c.channel, c.last, t))));
      tr.addEventListener('click', () => select(c.channel));
      return tr;
    }));
    if (!selected && list.length) select(list[0].channel);
  }

  // ---- the selected channel -----------------------------------------------

  function select(channel) {
    if (channel === selected) return;
    selected = channel;
    for (const tr of $('channels').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.channel === channel);
    $('channel-card').hidden = false;
    $('channel-name').textContent = channel;
    document.forms.publish.elements.channel.value = channel;
    series = [[], [], [], []];
    lastOf = null;
    drawChart();
    fill($('consumers').tBodies[0], []);
    $('tail').replaceChildren();
    startTail(channel);
    guard(refreshConsumers);
  }

  function lagClass(c) {
    if (!c.lag) return 'lag-ok';
    return c.oldestUnackedAge != null && c.oldestUnackedAge > BEHIND_MS ? 'lag-behind' : 'lag-catching';
  }

  let lastOf = null; // {t, last} of the selected channel, for its rate
  async function refreshConsumers() {
    const channel = selected;
    let r;
    try {
      r = await api.get('/consumers', { channel });
    } catch (e) {
      if (e.kind !== 'http' || channel !== selected) throw e;
      $('consumers-note').textContent = e.message; // e.g. a cluster-mode daemon
      return;
    }
    if (channel !== selected) return;
    const t = Date.now();
    fill($('consumers').tBodies[0], r.consumers.map((c) => el('tr', { 'data-client': c.clientId },
      el('td', {}, el('code', {}, c.clientId)), num(c.after),
      el('td', { class: 'num ' + lagClass(c), 'data-lag': String(c.lag) }, c.lag),
      num(fmtMs(c.oldestUnackedAge)), num(time(c.lastSeen)),
      el('td', {}, el('button', { type: 'button', class: 'forget-consumer', 'data-client': c.clientId, title: 'Take it out of the list and delete its cursor' }, 'forget')))));
    $('consumers-note').textContent = r.consumers.length ? '' : 'No consumer has read this channel with a clientId.';
    const rate = lastOf && t > lastOf.t ? ((r.last - lastOf.last) * 1000) / (t - lastOf.t) : null;
    lastOf = { t, last: r.last };
    const lags = r.consumers.map((c) => c.lag);
    series[0].push(t / 1000);
    series[1].push(lags.reduce((a, b) => a + b, 0));
    series[2].push(lags.length ? Math.max(...lags) : 0);
    series[3].push(rate);
    while (series[0].length && t / 1000 - series[0][0] > HISTORY_MS / 1000) for (const s of series) s.shift();
    drawChart();
  }

  function drawChart() {
    const box = $('chart');
    const width = Math.max(300, box.clientWidth || 500);
    if (!chart) {
      chart = new uPlot({
        width, height: 220,
        scales: { x: { time: true }, lag: {}, rate: {} },
        series: [
          {},
          { label: 'total lag', scale: 'lag', stroke: '#cf222e', width: 2 },
          { label: 'max lag', scale: 'lag', stroke: '#9a6700', width: 1, dash: [4, 4] },
          { label: 'events/s', scale: 'rate', stroke: '#0969da', width: 2 },
        ],
        axes: [{}, { scale: 'lag', label: 'events behind' }, { scale: 'rate', side: 1, label: 'events/s', grid: { show: false } }],
      }, series, box);
    } else {
      if (chart.width !== width) chart.setSize({ width, height: 220 });
      chart.setData(series);
    }
  }

  // A consumer gone for good: out of the registry, its cursor deleted
  // (DELETE /consumers), once the operator confirmed.
  async function forgetConsumer(clientId) {
    const channel = selected;
    if (!confirm('Forget consumer ' + clientId + ' of ' + channel + '?\n\nIts cursor is deleted: should it read again, ' +
                 'it starts from the oldest retained event.')) return;
    let note;
    try {
      await api.request('DELETE', '/consumers', { channel, clientId });
      note = 'Forgot ' + clientId + '.';
    } catch (e) {
      if (e.kind !== 'http') return failed(e);
      note = clientId + ' not forgotten: ' + e.message;
    }
    await guard(refreshConsumers);
    if (channel === selected) $('consumers-note').textContent = note; // until the next refresh
  }

  // ---- the live tail ------------------------------------------------------------

  function tailState(text) {
    $('tail-state').textContent = text;
    $('tail').dataset.state = text;
  }

  function showEvent(e) {
    let line, cls = '';
    if (e.event === 'message') {
      const ev = JSON.parse(e.data);
      line = '#' + ev.id + '  ' + time(ev.timestamp) + '  ' + ev.type + '  from ' + ev.from + (ev.data !== undefined ? '  ' + JSON.stringify(ev.data) : '');
    } else {
      cls = 'signal';
      line = e.event + ': ' + e.data;
    }
    const list = $('tail');
    list.prepend(el('li', { class: cls }, line));
    while (list.children.length > TAIL_MAX) list.lastChild.remove();
  }

  function stopTail() {
    if (tail) tail.ctl.abort();
    tail = null;
  }

  async function startTail(channel) {
    stopTail();
    const me = { ctl: new AbortController(), channel, lastId: '' };
    tail = me;
    while (tail === me && api) {
      tailState('connecting');
      const headers = api.headers(me.lastId ? { 'Last-Event-ID': me.lastId } : {});
      try {
        await readStream(api.url('/stream', { channel }), headers, me.ctl.signal, (e) => {
          if (e.id) me.lastId = e.id;
          if (e.event === 'id') tailState('live');
          else showEvent(e);
        });
      } catch (e) {
        if (me.ctl.signal.aborted) return;
        if (e.status === 401) return wrongSecret();
      }
      if (tail !== me) return;
      tailState('reconnecting');
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  // ---- publishing -------------------------------------------------------------

  async function publish(form) {
    const f = form.elements;
    const out = $('publish-result');
    const body = { clientId: 'console', channel: f.channel.value, type: f.type.value, from: f.from.value };
    const text = f.data.value.trim();
    if (text) {
      try { body.data = JSON.parse(text); } catch (e) { out.textContent = 'data is not JSON: ' + e.message; return; }
    }
    try {
      const ev = await api.post('/events', body);
      out.textContent = 'published #' + ev.id + ' on ' + body.channel;
    } catch (e) {
      if (e.kind === 'http') out.textContent = 'refused: ' + e.message;
      else failed(e);
    }
  }

  // ---- start ---------------------------------------------------------------

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    connect($('secret').value);
  });
  $('forget').addEventListener('click', () => {
    stop();
    sessionStorage.removeItem(SECRET_KEY);
    location.reload();
  });
  $('consumers').addEventListener('click', (e) => {
    const b = e.target.closest('button.forget-consumer');
    if (b && api) forgetConsumer(b.dataset.client);
  });
  document.forms.publish.addEventListener('submit', (e) => {
    e.preventDefault();
    publish(e.target);
  });
  const kept = sessionStorage.getItem(SECRET_KEY);
  if (kept) connect(kept);
  else $('secret').focus();
})();
