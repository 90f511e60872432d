'use strict';
// The sockets of a Client end with close(): a Client that listened on many
// channels holds their long-poll (one for all of them); after close() every one of
// them is closed (the engine's connection pool included) and the process's
// descriptors go back to what they were before the Client, while the
// Client object is still referenced (no collection involved). Connections
// are counted at the daemon's port in /proc/net/tcp (ESTABLISHED, the
// daemon's end), descriptors in /proc/self/fd.
const t = require('tap');
const fs = require('node:fs');
const h = require('../lib/client-harness');

const T = { timeout: h.limit(120000) };

// ESTABLISHED connections whose local port is `port`: the daemon's ends.
function establishedAt(port) {
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = fs.readFileSync(file, 'utf8'); } catch (_) { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const local = parseInt(cols[1].split(':').pop(), 16);
      if (local === port && cols[3] === '01') n++;
    }
  }
  return n;
}

// Long-polls waiting at the daemon, one per channel (its /metrics).
async function waiters(stack) {
  const text = await (await fetch(stack.server.url + '/metrics')).text();
  const m = /^ganomede_events_longpolls_waiting (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

const openFds = () => fs.readdirSync('/proc/self/fd').length;

const counts = (port) => ({ connections: establishedAt(port), fds: openFds() });

// Poll until test(counts) holds or limit(ms) passed; the last counts.
async function waitFor(port, test, ms) {
  const end = Date.now() + h.limit(ms);
  for (;;) {
    const c = counts(port);
    if (test(c) || Date.now() > end) return c;
    await h.sleep(20);
  }
}

// Listen on n channels of a new Client and wait until the daemon holds
// their long-poll (a connection, and a waiter for each channel).
async function listening(stack, n, name) {
  const client = new h.Client(h.unique(name), stack.options());
  client.on('error', () => {});
  const channels = [];
  const listener = () => {};
  for (let i = 0; i < n; i++) {
    channels.push(h.unique(name + '-' + i));
    client.on(channels[i], listener);
  }
  const seen = await waitFor(stack.server.port, (c) => c.connections >= 1, 20000);
  const end = Date.now() + h.limit(20000);
  while (await waiters(stack) < n && Date.now() < end) await h.sleep(20);
  return { client, channels, listener, seen };
}

let stack;
t.before(async () => {
  stack = await h.startStack({ env: { POLL_TIMEOUT: '1000' } });
});
t.teardown(async () => { await stack.server.stop(); });

// What the process holds without a Client: waits for the daemon's ends of
// an earlier test's connections to go.
async function baseline(t) {
  const b = await waitFor(stack.server.port, (c) => c.connections === 0, 10000);
  t.comment(`baseline: ${b.connections} connections at the daemon, ${b.fds} descriptors`);
  return b;
}

const back = (b) => (c) => c.connections <= b.connections && c.fds <= b.fds;

t.test('300 channels listened to, drained, close(): no connection and no descriptor of the client left', T, async (t) => {
  const b = await baseline(t);
  const { client, channels, listener, seen } = await listening(stack, 300, 'conns');
  t.comment(`listening: ${seen.connections} connections, ${seen.fds} descriptors`);
  t.ok(seen.connections >= 1 && seen.connections <= 2, 'one long-poll for every channel');
  const drained = h.once(client, 'drain', 20000);
  for (const ch of channels) client.removeListener(ch, listener);
  await drained;
  const idle = counts(stack.server.port);
  t.comment(`drained: ${idle.connections} connections, ${idle.fds} descriptors`);
  client.close();
  const after = await waitFor(stack.server.port, back(b), 10000);
  t.comment(`closed: ${after.connections} connections, ${after.fds} descriptors`);
  t.equal(after.connections, b.connections, 'the daemon holds no connection of the client');
  t.ok(after.fds <= b.fds, `descriptors back to the baseline (${after.fds}, baseline ${b.fds})`);
  t.equal(client.listenerCount('drain'), 0, 'the client is still referenced: no collection involved');
});

t.test('close() with every long-poll in flight closes every connection', T, async (t) => {
  const b = await baseline(t);
  const { client, seen } = await listening(stack, 50, 'conns-inflight');
  t.ok(seen.connections >= 1 && seen.connections <= 2, 'one long-poll for every channel');
  const drained = h.once(client, 'drain', 20000);
  client.close();
  await drained;
  const after = await waitFor(stack.server.port, back(b), 10000);
  t.comment(`closed: ${after.connections} connections, ${after.fds} descriptors (baseline ${b.fds})`);
  t.equal(after.connections, b.connections, 'the daemon holds no connection of the client');
  t.ok(after.fds <= b.fds, 'descriptors back to the baseline');
});

t.test('close() with a send in flight: the send completes once, then every connection closes', T, async (t) => {
  const b = await baseline(t);
  const { client, channels, seen } = await listening(stack, 50, 'conns-send');
  t.ok(seen.connections >= 1 && seen.connections <= 2, 'one long-poll for every channel');
  let calls = 0;
  const sent = new Promise((resolve) => {
    client.send(channels[0], { from: 'tests', type: 'last' }, (err, header) => { calls++; resolve([err, header]); });
  });
  client.close();
  const [err, header] = await sent;
  t.notOk(err, 'the send succeeds');
  t.equal(header && header.type, 'last', 'with the stored event');
  const after = await waitFor(stack.server.port, back(b), 10000);
  t.comment(`closed: ${after.connections} connections, ${after.fds} descriptors (baseline ${b.fds})`);
  t.equal(after.connections, b.connections, 'the daemon holds no connection of the client');
  t.ok(after.fds <= b.fds, 'descriptors back to the baseline');
  await h.sleep(100);
  t.equal(calls, 1, 'the send called back once');
});
