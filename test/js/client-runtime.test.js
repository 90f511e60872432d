'use strict';
// The client as a citizen of the Node process: the loop stays free, the
// process exits by itself, errors throw like EventEmitter's, back-off
// while the server is down, close() aborts long-polls.
const tap = require('tap');
const h = require('../lib/client-harness');

const T = { timeout: h.limit(60000) };

tap.test('20 channels on one Client at once while a setInterval keeps ticking on time', T, async (t) => {
  const stack = await h.startStack({ env: { POLL_TIMEOUT: '1000' } });
  const c = new h.Client(h.unique('cid'), stack.options());
  try {
    const channels = Array.from({ length: 20 }, () => h.unique('many'));
    const received = new Map(channels.map((ch) => [ch, []]));
    for (const ch of channels) c.on(ch, (e) => received.get(ch).push(e.type));
    // Ticks every 20 ms: record the worst lateness while 20 long-polls wait.
    let worst = 0, last = Date.now(), ticks = 0;
    const iv = setInterval(() => {
      const now = Date.now();
      worst = Math.max(worst, now - last - 20);
      last = now;
      ticks++;
    }, 20);
    await h.sleep(1500); // every channel has had a long-poll waiting, some timed out
    for (let round = 0; round < 3; round++) {
      await Promise.all(channels.map((ch) => h.publish(stack, ch, { from: 'x', type: 'r' + round })));
    }
    const deadline = Date.now() + h.limit(10000);
    while (channels.some((ch) => received.get(ch).length < 3) && Date.now() < deadline) await h.sleep(20);
    clearInterval(iv);
    for (const ch of channels) t.strictSame(received.get(ch), ['r0', 'r1', 'r2'], ch);
    // What must never happen: the loop held while a long-poll (1 s here)
    // waits. Ordinary lateness on a busy machine is not this test's business.
    t.ok(ticks > 10, 'interval ticked ' + ticks + ' times');
    t.ok(worst < h.limit(1000), 'an interval tick was ' + worst + ' ms late: the loop was held');
  } finally {
    c.close();
    await stack.server.stop();
  }
});

tap.test('the process exits by itself after the last removeListener', T, async (t) => {
  const stack = await h.startStack({ env: { POLL_TIMEOUT: '30000' } });
  try {
    const ch = h.unique();
    await h.publish(stack, ch, { from: 'x', type: 'first' });
    // The child listens, gets one event, removes its listener (a 30 s
    // long-poll is then in flight) and must exit without waiting for it.
    const script = `
      const { Client } = require('.');
      const c = new Client('exit-test', { secret: ${JSON.stringify(stack.server.secret)}, hostname: '127.0.0.1', port: ${stack.server.port} });
      const h = (e) => { console.log('got ' + e.type); setTimeout(() => c.removeListener(${JSON.stringify(ch)}, h), 50); };
      c.on(${JSON.stringify(ch)}, h);
      process.on('exit', () => console.log('exit'));`;
    const r = await h.runNode(script, { timeout: 20000 });
    t.equal(r.signal, null, 'killed: did not exit by itself; ' + r.stderr);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'got first\nexit\n');
    t.ok(r.ms < h.limit(10000), 'took ' + r.ms + ' ms');
  } finally {
    await stack.server.stop();
  }
});

tap.test('a process that still listens does not exit', T, async (t) => {
  const stack = await h.startStack({ env: { POLL_TIMEOUT: '500' } });
  try {
    const script = `
      const { Client } = require('.');
      const c = new Client('stay', { secret: ${JSON.stringify(stack.server.secret)}, hostname: '127.0.0.1', port: ${stack.server.port} });
      c.on('stay-channel-' + process.pid, () => {});
      c.on('cycle', () => console.log('cycle'));`;
    const r = await h.runNode(script, { timeout: 2500 });
    t.equal(r.signal, 'SIGKILL'); // still running when killed
    t.ok(r.stdout.split('\n').filter((l) => l === 'cycle').length >= 3, r.stdout);
  } finally {
    await stack.server.stop();
  }
});

tap.test('with no "error" listener an error throws, as EventEmitter does', T, async (t) => {
  const port = await h.freePort(); // nothing listens there
  const script = `
    const { Client } = require('.');
    process.on('uncaughtException', (err) => {
      console.log(JSON.stringify({ message: err.message, code: err.code, statusCode: err.statusCode, isError: err instanceof Error }));
      process.exit(3);
    });
    new Client('thrower', { secret: 's', hostname: '127.0.0.1', port: ${port} }).on('some-channel', () => {});`;
  const r = await h.runNode(script);
  if (!t.equal(r.code, 3, r.stderr)) return; // stdout is its JSON line only then
  const err = JSON.parse(r.stdout);
  t.equal(err.isError, true);
  t.equal(err.code, 'ECONNREFUSED');
  t.equal(err.statusCode, 0);
  // And without any handler the process dies with it, like any unhandled 'error'.
  const r2 = await h.runNode(`
    const { Client } = require('.');
    new Client('thrower', { secret: 's', hostname: '127.0.0.1', port: ${port} }).on('some-channel', () => {});`);
  t.not(r2.code, 0);
  t.match(r2.stderr, /ECONNREFUSED|Couldn't connect/);
});

tap.test('while the server is down requests back off, then resume when it is back', T, async (t) => {
  const port = await h.freePort();
  const c = new h.Client(h.unique('cid'), { secret: h.SECRET, hostname: '127.0.0.1', port });
  const ch = h.unique();
  const errorsAt = [];
  const t0 = Date.now();
  c.on('error', (err) => { errorsAt.push(Date.now() - t0); t.equal(err.code, 'ECONNREFUSED'); });
  const got = [];
  c.on(ch, (e) => got.push(e.type));
  let server;
  try {
    await h.sleep(1650);
    // It retries, and never in a hot loop: without back-off a refused
    // connection is retried at once, thousands of times a second. (The
    // back-off's own figures are bench/'s business, not a test's.)
    const n = errorsAt.length;
    const perSecond = n / ((Date.now() - t0) / 1000);
    t.ok(n >= 2, 'retried while down: ' + n + ' requests at ' + errorsAt.join(','));
    t.ok(perSecond < 10, 'fewer than 10 requests a second while down: ' + n + ' at ' + errorsAt.join(','));
    server = await h.startServer({ port, redisPort: h.REDIS_PORT, env: { POLL_TIMEOUT: '500' } });
    await h.publish({ server, url: server.url }, ch, { from: 'x', type: 'after-outage' });
    const deadline = Date.now() + h.limit(10000); // next retry is at most 1.6 s away
    while (got.length === 0 && Date.now() < deadline) await h.sleep(20);
    t.strictSame(got, ['after-outage']);
  } finally {
    c.close();
    if (server) await server.stop();
  }
});

tap.test('close() aborts long-polls in flight; sends in flight still complete', T, async (t) => {
  const stack = await h.startStack({ env: { POLL_TIMEOUT: '30000' } });
  try {
    const script = `
      const { Client } = require('.');
      const c = new Client('closer', { secret: ${JSON.stringify(stack.server.secret)}, hostname: '127.0.0.1', port: ${stack.server.port} });
      for (let i = 0; i < 3; i++) c.on('close-test-' + i + '-' + process.pid, () => {});
      c.on('drain', () => console.log('drain'));
      setTimeout(() => {
        c.send('close-test-sent-' + process.pid, { from: 'x', type: 'y' }, (err, h) => console.log('sent ' + (err ? err.message : h.id)));
        c.close();
        const t0 = Date.now();
        process.on('exit', () => console.log('exit after ' + (Date.now() - t0 < 5000 ? 'less' : 'more') + ' than 5 s'));
      }, 300);`;
    const r = await h.runNode(script, { timeout: 20000 });
    t.equal(r.code, 0, r.stderr);
    t.strictSame(r.stdout.trim().split('\n').sort(), ['drain', 'exit after less than 5 s', 'sent 1']);
  } finally {
    await stack.server.stop();
  }
});
