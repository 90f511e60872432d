'use strict';
// Headless Chromium (Debian's chromium, scripts/deps.sh test group) started
// by the test (spawnOwned: it dies with it) and driven over CDP by
// playwright-core. Its teardown is registered on t.
const net = require('node:net');
const fs = require('node:fs');
const { sleep } = require('./harness');
const { spawnOwned } = require('./procs');

function freeCdpPort() {
  return new Promise((r) => { const x = net.createServer().listen(0, '127.0.0.1', () => { const p = x.address().port; x.close(() => r(p)); }); });
}

// Resolves the connected browser, or null when it did not start.
async function launchChromium(t) {
  const { chromium } = require('playwright-core');
  const cdpPort = await freeCdpPort();
  const profile = fs.mkdtempSync('/tmp/ge-chromium-');
  const proc = spawnOwned('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--user-data-dir=' + profile,
    '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=' + cdpPort, 'about:blank'], { stdio: 'ignore' });
  const gone = new Promise((r) => proc.once('exit', r));
  let browser = null;
  t.teardown(async () => {
    if (browser) await Promise.race([browser.close().catch(() => {}), sleep(2000)]);
    proc.kill('SIGKILL');
    await gone;
    await sleep(200); // its helper processes go with it
    try { fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); } catch (e) { t.comment('profile left: ' + e.message); }
  });
  for (let i = 0; i < 100 && !browser; i++) {
    try { browser = await chromium.connectOverCDP('http://127.0.0.1:' + cdpPort); } catch (_) { await sleep(100); }
  }
  return browser;
}

// A new tab of browser.
async function newTab(browser) {
  return (browser.contexts()[0] || await browser.newContext()).newPage();
}

module.exports = { launchChromium, newTab };
