'use strict';
// The console in a real browser (headless Chromium): a wrong secret is
// told; with the right one it shows the channels, a channel's consumers
// whose lag follows their reads, a live tail that shows an event
// published from outside at once (without being a consumer: it stores
// nothing), the publish form, the daemon's metrics; the page breaks no
// rule of its Content-Security-Policy and never puts the secret in a URL;
// a daemon that stops answering is told. It saves a screenshot
// (out/test-artifacts/console.png, or GE_CONSOLE_SCREENSHOT: how
// docs/console.png is made).
const tap = require('tap');
const fs = require('node:fs');
const path = require('node:path');
const { startRedis, startServer, request, sleep, limit, redisCommand, ROOT } = require('../lib/harness');
const { missing } = require('../lib/procs');
const { launchChromium, newTab } = require('../lib/browser');

const T = { timeout: limit(120000) };
const SHOT = process.env.GE_CONSOLE_SCREENSHOT ? path.resolve(process.env.GE_CONSOLE_SCREENSHOT)
  : path.join(ROOT, 'out', 'test-artifacts', 'console.png');

tap.test('the console: secret, channels, consumers\' lag, live tail, publish, metrics, a daemon gone', T, async (t) => {
  const why = missing('chromium');
  if (why) { t.fail(why); return; }
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const srv = await startServer({ redisPort: redis.port });
  t.teardown(() => srv.stop());
  const auth = { Authorization: 'Bearer ' + srv.secret };
  const publish = (channel, type, data) => request(srv.url, 'POST', '/events/v1/events',
    { clientId: 'tests', channel, from: 'game-server', type, data }, auth);
  const read = (clientId, channel, q) => request(srv.url, 'GET', '/events/v1/events?' +
    new URLSearchParams(Object.assign({ clientId, channel }, q)), undefined, auth);

  // A few channels and consumers: mailer behind on users/v1, sync caught up.
  for (let i = 0; i < 5; i++) await publish('users/v1', 'SIGNUP', { username: 'user' + i });
  for (let i = 0; i < 8; i++) await publish('game/42', 'MOVE', { x: i, y: 7 - i });
  await publish('chat/lobby', 'MESSAGE', { text: 'hi' });
  t.equal((await read('mailer', 'users/v1', { after: '0', limit: '2' })).json.length, 2);
  t.equal((await read('mailer', 'users/v1', { after: '2' })).json.length, 3, 'mailer acknowledged 2 of 5: lag 3');
  await read('sync', 'users/v1', { after: '0' });
  await read('sync', 'users/v1', { after: '5' }); // long-polls, then has acknowledged everything
  await read('leaderboard', 'game/42', { after: '0', limit: '3' });
  await read('leaderboard', 'game/42', { after: '3' });
  let trickle = true; // publish rates for the table and the chart
  const trickling = (async () => {
    for (let i = 0; trickle; i++) { await publish(i % 3 ? 'game/42' : 'chat/lobby', 'MOVE', { n: i }); await sleep(150); }
  })();
  t.teardown(async () => { trickle = false; await trickling; });

  const browser = await launchChromium(t);
  t.ok(browser, 'chromium started');
  const tab = await newTab(browser);
  await tab.setViewportSize({ width: 1280, height: 1000 });
  const problems = [], urls = [];
  // The one error answer it is told of: the wrong secret's 401.
  tab.on('console', (m) => {
    if ((m.type() === 'error' && !/status of 401/.test(m.text())) || /Content.Security.Policy|Refused/i.test(m.text())) problems.push(m.type() + ': ' + m.text());
  });
  tab.on('response', (r) => { if (r.status() >= 400 && r.status() !== 401) problems.push(r.status() + ' ' + r.url()); });
  tab.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  tab.on('request', (r) => urls.push(r.url()));
  await tab.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
  });
  const wait = (sel, ms = 10000) => tab.waitForSelector(sel, { timeout: limit(ms) });
  const page = srv.url + '/events/v1/console';
  await tab.goto(page);

  await tab.fill('#secret', 'not-the-secret');
  await tab.click('#login button');
  await wait('body[data-state="auth"]');
  t.match(await tab.textContent('#banner'), /Wrong secret/, 'a wrong secret is told');
  t.ok(await tab.isHidden('#main'), 'and nothing else is shown');

  await tab.fill('#secret', srv.secret);
  await tab.click('#login button');
  await wait('body[data-state="live"]');
  t.ok(await tab.isHidden('#banner'), 'the right one: no message');
  await wait('#channels tr[data-channel="chat/lobby"]');
  const listed = await tab.$$eval('#channels tbody tr', (rows) => rows.map((r) => r.dataset.channel));
  t.same(listed, ['chat/lobby', 'game/42', 'users/v1'], 'the channels');
  await tab.click('#channels tr[data-channel="users/v1"]');
  await wait('#consumers tr[data-client="mailer"] td[data-lag="3"]');
  t.same(await tab.$$eval('#consumers tbody tr', (rows) => rows.map((r) => [r.dataset.client, r.querySelector('[data-lag]').dataset.lag])),
    [['mailer', '3'], ['sync', '0']], 'its consumers and their lag');
  t.match(await tab.getAttribute('#consumers tr[data-client="mailer"] td[data-lag]', 'class'), /lag-(catching|behind)/, 'a lag is coloured');
  const reading = read('mailer', 'users/v1', { after: '5' }); // a long-poll acknowledging all
  await wait('#consumers tr[data-client="mailer"] td[data-lag="0"]');
  t.pass('mailer\'s lag went to 0 when it read');
  await reading;

  await wait('#tail[data-state="live"]');
  const t0 = Date.now();
  const pub = await publish('users/v1', 'FROM-OUTSIDE', { username: 'eve' });
  t.equal(pub.status, 200);
  await tab.waitForFunction(() => [...document.querySelectorAll('#tail li')].some((li) => li.textContent.includes('FROM-OUTSIDE')), null, { timeout: limit(1000) });
  t.ok(Date.now() - t0 < limit(1000), 'an event published from outside is in the live tail within a second (' + (Date.now() - t0) + ' ms)');
  t.same((await redisCommand(redis.port, 'ZRANGE', 'users/v1:consumers', '0', '-1')).sort(), ['mailer', 'sync'], 'the tail is in no consumers\' registry');
  const [, cursors] = await redisCommand(redis.port, 'SCAN', '0', 'MATCH', 'last-fetched:*', 'COUNT', '10000');
  t.same(cursors.sort(), ['last-fetched:leaderboard:game/42', 'last-fetched:mailer:users/v1', 'last-fetched:sync:users/v1'], 'and left no cursor');

  await tab.fill('#publish [name="type"]', 'FORM-TEST');
  await tab.click('#publish button');
  await tab.waitForFunction(() => /published #\d+ on users\/v1/.test(document.getElementById('publish-result').textContent), null, { timeout: limit(5000) });
  await tab.waitForFunction(() => [...document.querySelectorAll('#tail li')].some((li) => li.textContent.includes('FORM-TEST')), null, { timeout: limit(5000) });
  t.pass('the form publishes, and the tail shows it');

  await wait('#routes tr >> text=consumers');
  t.match(await tab.textContent('#redis'), /Redis commands up.*pub\/sub up.*writable/, 'Redis\'s state from /metrics');
  const rate = await tab.$$eval('#routes tbody tr', (rows) => rows.find((r) => r.cells[0].textContent === 'events').cells[1].textContent);
  t.ok(Number(rate) > 0, 'the request rate of a route (events: ' + rate + '/s)');
  await sleep(limit(4000)); // a few seconds of chart
  fs.mkdirSync(path.dirname(SHOT), { recursive: true });
  await tab.screenshot({ path: SHOT, fullPage: true });
  t.comment('screenshot: ' + path.relative(ROOT, SHOT));

  // Forgetting a consumer: asked first; dismissed, nothing changes.
  const dialogs = [];
  const answer = (accept) => tab.once('dialog', (d) => { dialogs.push(d.message()); accept ? d.accept() : d.dismiss(); });
  answer(false);
  await tab.click('#consumers button.forget-consumer[data-client="sync"]');
  await sleep(limit(300));
  t.match(dialogs[0], /Forget consumer sync of users\/v1\?/, 'the console asks before forgetting a consumer');
  t.same((await redisCommand(redis.port, 'ZRANGE', 'users/v1:consumers', '0', '-1')).sort(), ['mailer', 'sync'], 'dismissed: still listed');
  answer(true);
  await tab.click('#consumers button.forget-consumer[data-client="sync"]');
  await tab.waitForFunction(() => !document.querySelector('#consumers tr[data-client="sync"]') &&
    !!document.querySelector('#consumers tr[data-client="mailer"]'), null, { timeout: limit(5000) });
  t.same(await redisCommand(redis.port, 'ZRANGE', 'users/v1:consumers', '0', '-1'), ['mailer'], 'accepted: out of the registry');
  t.equal(await redisCommand(redis.port, 'EXISTS', 'last-fetched:sync:users/v1'), 0, 'and its cursor deleted');

  t.same(await tab.evaluate(() => window.cspViolations), [], 'no Content-Security-Policy violation');
  t.same(problems, [], 'no error in the page\'s console');
  t.notOk(urls.some((u) => u.includes(srv.secret)), 'the secret is in no URL the page asked for');

  trickle = false;
  await trickling;
  await srv.stop();
  await wait('body[data-state="down"]');
  t.match(await tab.textContent('#banner'), /daemon is not answering/, 'a daemon that stopped answering is told');
});
