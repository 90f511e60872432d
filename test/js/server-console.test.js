'use strict';
// The console's route (GET /events/v1/console, docs/operations.md
// "Console"): the page and its files as built into the daemon, each with
// its Content-Type, a strict Content-Security-Policy, an ETag that a
// conditional GET answers 304; GET and HEAD only; an unknown file is the
// 404 JSON of any path; CONSOLE=off turns it off; the vendored uPlot is
// the npm package's own files, byte for byte.
const tap = require('tap');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, request, ROOT } = require('../lib/harness');

const T = { timeout: 60000 };
const PAGE = '/events/v1/console';
const DIR = path.join(ROOT, 'server', 'console');

let srv;
tap.before(async () => { srv = await startServer({}); });
tap.teardown(async () => { if (srv) await srv.stop(); });

// The files the page links (<script src>, <link href>), relative to it
// (data: URLs aside: the empty icon, which spares a request for /favicon.ico).
function linked(html) {
  return [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((u) => !u.startsWith('data:'));
}

tap.test('the page and every file it links, with their types, a strict CSP and no secret needed', T, async (t) => {
  const r = await request(srv.url, 'GET', PAGE);
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
  t.equal(r.body, fs.readFileSync(path.join(DIR, 'index.html'), 'utf8'), 'the bytes of server/console/index.html');
  const csp = r.headers.get('content-security-policy');
  t.match(csp, /default-src 'none'/);
  t.match(csp, /script-src 'self'/);
  t.match(csp, /connect-src 'self'/);
  t.notMatch(csp, /unsafe-inline|unsafe-eval|\*/, 'no unsafe-inline, no unsafe-eval, no wildcard');
  t.equal(r.headers.get('x-content-type-options'), 'nosniff');
  t.equal(r.headers.get('cache-control'), 'no-cache');
  t.notMatch(r.body, /<script>|<style>| style=| on[a-z]+=/, 'no inline script or style in the page');
  const files = linked(r.body);
  t.ok(files.length >= 6, 'it links its scripts and styles');
  const types = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
  const etags = new Set([r.headers.get('etag')]);
  for (const f of files) {
    t.match(f, /^console\//, f + ': relative to the page, served by the daemon (no CDN)');
    const a = await request(srv.url, 'GET', '/events/v1/' + f);
    t.equal(a.status, 200, f);
    t.equal(a.headers.get('content-type'), types[path.extname(f)], f + ': its type');
    t.equal(a.body, fs.readFileSync(path.join(DIR, f.slice('console/'.length)), 'utf8'), f + ': its bytes');
    t.ok(a.headers.get('content-security-policy'), f + ': the CSP too');
    etags.add(a.headers.get('etag'));
  }
  t.equal(etags.size, files.length + 1, 'each file its own ETag');
  const lic = await request(srv.url, 'GET', PAGE + '/vendor/uPlot.LICENSE');
  t.equal(lic.headers.get('content-type'), 'text/plain; charset=utf-8');
  t.match(lic.body, /MIT License/, 'uPlot\'s license is served with it');
});

tap.test('an ETag: a conditional GET is 304 without a body; HEAD has the headers only', T, async (t) => {
  const r = await request(srv.url, 'GET', PAGE + '/console.js');
  const etag = r.headers.get('etag');
  t.match(etag, /^"[0-9a-f]{16}"$/);
  const again = await request(srv.url, 'GET', PAGE + '/console.js', undefined, { 'If-None-Match': etag });
  t.equal(again.status, 304);
  t.equal(again.body, '');
  t.equal(again.headers.get('etag'), etag);
  const list = await request(srv.url, 'GET', PAGE + '/console.js', undefined, { 'If-None-Match': '"x", W/' + etag });
  t.equal(list.status, 304, 'one of a list, weak or not');
  const other = await request(srv.url, 'GET', PAGE + '/console.js', undefined, { 'If-None-Match': '"0000000000000000"' });
  t.equal(other.status, 200, 'another tag gets the file');
  const head = await request(srv.url, 'HEAD', PAGE);
  t.equal(head.status, 200);
  t.equal(head.body, '');
  t.equal(Number(head.headers.get('content-length')), fs.statSync(path.join(DIR, 'index.html')).size);
});

tap.test('GET and HEAD only; an unknown file is a 404 JSON; the path with a slash is redirected', T, async (t) => {
  const post = await request(srv.url, 'POST', PAGE, {});
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
  t.same(post.json, { code: 'MethodNotAllowed', message: 'Only GET and HEAD are allowed' });
  for (const p of [PAGE + '/nope.js', PAGE + '/vendor/', PAGE + '/console.js/', PAGE + '/CONSOLE.JS', PAGE + 'x', PAGE + '/index.html']) {
    const r = await request(srv.url, 'GET', p);
    t.equal(r.status, 404, p);
    t.equal(r.json && r.json.code, 'ResourceNotFound', p + ': JSON');
  }
  const slash = await fetch(srv.url + PAGE + '/', { redirect: 'manual' });
  t.equal(slash.status, 301);
  t.equal(new URL(slash.headers.get('location'), srv.url + PAGE + '/').pathname, PAGE, 'to the page');
});

tap.test('CONSOLE=off: the page and its files are 404; a bad value stops the daemon at start', T, async (t) => {
  const off = await startServer({ env: { CONSOLE: 'off' } });
  t.teardown(() => off.stop());
  for (const p of [PAGE, PAGE + '/console.js']) {
    const r = await request(off.url, 'GET', p);
    t.equal(r.status, 404, p);
    t.same(r.json, { code: 'ResourceNotFound', message: p + ' does not exist' });
  }
  t.equal((await request(off.url, 'GET', '/events/v1/health')).status, 200, 'the API is served');
  const bad = await startServer({ env: { CONSOLE: 'maybe' }, wait: false });
  const e = await bad.exited;
  t.not(e.code, 0, 'exits');
  t.match(bad.stderr, /CONSOLE must be on or off/);
});

tap.test('the vendored uPlot is the pinned npm package\'s files, byte for byte', T, async (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const mod = path.join(ROOT, 'node_modules', 'uplot');
  const installed = JSON.parse(fs.readFileSync(path.join(mod, 'package.json'), 'utf8')).version;
  t.equal(pkg.devDependencies.uplot, installed, 'package.json pins the installed version exactly');
  const pairs = [['uPlot.iife.min.js', 'dist/uPlot.iife.min.js'], ['uPlot.min.css', 'dist/uPlot.min.css'], ['uPlot.LICENSE', 'LICENSE']];
  for (const [vendored, own] of pairs) {
    t.ok(fs.readFileSync(path.join(DIR, 'vendor', vendored)).equals(fs.readFileSync(path.join(mod, own))),
      'server/console/vendor/' + vendored + ' = node_modules/uplot/' + own);
  }
  t.same(fs.readdirSync(path.join(DIR, 'vendor')).sort(), pairs.map((p) => p[0]).sort(), 'nothing else vendored');
});
