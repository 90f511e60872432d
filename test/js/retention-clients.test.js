'use strict';
// The clients surface the server's retention signals (docs/retention.md):
// the Node client emits 'error' (code 'EventsLost' with from/to, or
// 'CursorReset' with counter) before the events of the same answer, then
// 'cycle'; the C API (through the CLI, its user) reports both to the poll
// callbacks; `ganomede-events listen` warns on stderr and goes on, or
// exits 3 with --exit-on-loss.
const t = require('tap');
const { spawnOwned } = require('../lib/procs');
const h = require('../lib/harness');
const { Client } = require('../..');
const { startCli } = require('../lib/client-harness');

t.setTimeout(600000);


async function publish(s, channel, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await h.request(s.url, 'POST', '/events/v1/events',
      { secret: s.secret, clientId: 'pub', channel, from: 'f', type: 't', data: { i } });
    if (r.status !== 200) throw new Error('publish ' + r.status + ' ' + r.body);
    out.push(r.json);
  }
  return out;
}

async function waitFor(cond, ms) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out after ' + ms + ' ms');
    await h.sleep(20);
  }
}

// Record everything a client emits for a channel, in order.
function record(client, channel) {
  const log = [];
  client.on('error', (err, ch) => { if (ch === channel) log.push({ error: err }); });
  client.on('cycle', (c, ch) => { if (ch === channel) log.push({ cycle: c.next.after }); });
  client.on(channel, (ev) => log.push({ id: ev.id }));
  return log;
}

const ids = (stdout) => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).id);

t.test('Node client: lost range as an error, then the events, then cycle; told once', { timeout: 60000 }, async (t) => {
  const s = await h.startServer({ env: { RETENTION_MAX_EVENTS: '5', POLL_TIMEOUT: '1000' } });
  t.teardown(() => s.stop());
  const ch = h.unique('nlost');
  await publish(s, ch, 12);
  const client = new Client(h.unique('c'), { secret: s.secret, hostname: '127.0.0.1', port: s.port });
  t.teardown(() => client.close());
  const log = record(client, ch);
  await waitFor(() => log.filter((e) => e.id).length >= 5, 20000);
  const err = log[0].error;
  t.ok(err instanceof Error);
  t.same([err.code, err.from, err.to], ['EventsLost', 1, 7]);
  t.same(log.slice(1, 7), [{ id: 8 }, { id: 9 }, { id: 10 }, { id: 11 }, { id: 12 }, { cycle: 12 }]);
  await publish(s, ch, 1);
  await waitFor(() => log.some((e) => e.id === 13), 20000);
  t.equal(log.filter((e) => e.error).length, 1, 'told once');
});

t.test('Node client without an error listener: the signal throws like any client error', { timeout: 60000 }, async (t) => {
  const s = await h.startServer({ env: { RETENTION_MAX_EVENTS: '2', POLL_TIMEOUT: '1000' } });
  t.teardown(() => s.stop());
  const ch = h.unique('nthrow');
  await publish(s, ch, 4);
  const script = `const { Client } = require(${JSON.stringify(h.ROOT)});
    const c = new Client('x', { secret: ${JSON.stringify(s.secret)}, hostname: '127.0.0.1', port: ${s.port} });
    c.on(${JSON.stringify(ch)}, () => {});`;
  const p = spawnOwned(process.execPath, ['-e', script]);
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  const killer = setTimeout(() => p.kill('SIGKILL'), 30000);
  const code = await new Promise((r) => p.on('close', r));
  clearTimeout(killer);
  t.not(code, 0);
  t.match(stderr, /events 1-2 were removed before they were read/);
});

t.test('Node client and CLI across FLUSHALL: the reset, then the new events from id 1', { timeout: 120000 }, async (t) => {
  const redis = await h.startRedis();
  t.teardown(() => redis.stop());
  const s = await h.startServer({ redisPort: redis.port, env: { POLL_TIMEOUT: '1500' } });
  t.teardown(() => s.stop());
  const ch = h.unique('nflush');
  await publish(s, ch, 6);
  const client = new Client(h.unique('c'), { secret: s.secret, hostname: '127.0.0.1', port: s.port });
  t.teardown(() => client.close());
  const log = record(client, ch);
  const cli = startCli(s, ['listen', ch], h.unique('cli'));
  t.teardown(() => cli.proc.kill('SIGKILL'));
  await waitFor(() => log.filter((e) => e.id).length === 6 && ids(cli.stdout).length === 6, 30000);
  await h.sleep(300); // both parked in a long-poll with after = 6

  t.equal(await h.redisCommand(redis.port, 'FLUSHALL'), 'OK');
  await publish(s, ch, 2);
  await waitFor(() => log.some((e) => e.id === 2 && log.indexOf(e) > 6) && ids(cli.stdout).length >= 8, 30000);
  const after = log.slice(log.findIndex((e) => e.error));
  t.equal(after[0].error.code, 'CursorReset');
  t.ok(after[0].error.counter >= 1, 'the channel\'s last id');
  t.same(after.filter((e) => e.id).map((e) => e.id), [1, 2], 'the new events from id 1');
  t.same(ids(cli.stdout), [1, 2, 3, 4, 5, 6, 1, 2]);
  t.match(cli.stderr, new RegExp('listen ' + ch + ': warning: CursorReset'));
  // And on from there, with no further signal.
  await publish(s, ch, 1);
  await waitFor(() => log.some((e) => e.id === 3) && ids(cli.stdout).length === 9, 30000);
  t.equal(log.filter((e) => e.error).length, 1);
  t.equal(cli.stderr.match(/warning/g).length, 1);
  cli.proc.kill('SIGTERM');
  t.equal((await cli.done).code, 0);
});

t.test('CLI listen: the lost range is a warning and listening goes on; --exit-on-loss exits 3', { timeout: 120000 }, async (t) => {
  const s = await h.startServer({ env: { RETENTION_MAX_EVENTS: '5', POLL_TIMEOUT: '1000' } });
  t.teardown(() => s.stop());
  const ch = h.unique('clost');
  await publish(s, ch, 12);

  let r = startCli(s, ['listen', '--count', '6', ch], h.unique('cli'));
  await waitFor(() => ids(r.stdout).length >= 5, 30000);
  await publish(s, ch, 1);
  let e = await r.done;
  t.equal(e.code, 0);
  t.same(ids(r.stdout), [8, 9, 10, 11, 12, 13]);
  t.match(r.stderr, new RegExp('listen ' + ch + ': warning: EventsLost: events 1-7 were removed before they were read'));

  const strict = h.unique('strict');
  r = startCli(s, ['listen', '--exit-on-loss', ch], strict);
  e = await r.done;
  t.equal(e.code, 3);
  t.equal(r.stdout, '', 'nothing printed past the loss');
  t.match(r.stderr, /EventsLost: events 1-8 were removed/);
});
