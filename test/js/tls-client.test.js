'use strict';
// https: the client through a local TLS terminator (stunnel) in front of
// the daemon, with a certificate made here by openssl and verified by the
// client against it (no verification switched off).
const tap = require('tap');
const { execFileSync } = require('node:child_process');
const { spawnOwned, which, missing } = require('../lib/procs');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../lib/client-harness');

const T = { timeout: h.limit(60000) };
// Debian's stunnel4 package installs stunnel4 (and stunnel on newer releases).
const STUNNEL = ['stunnel4', 'stunnel'].find(which);
const NO_STUNNEL = !STUNNEL && missing('stunnel4');

let stack, tunnel, dir, tlsPort;

tap.before(async () => {
  if (!STUNNEL) return;
  stack = await h.startStack({ env: { POLL_TIMEOUT: '1000' } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  tlsPort = await h.freePort();
  fs.writeFileSync(path.join(dir, 'stunnel.conf'), [
    'foreground = yes', 'pid =', 'debug = 3',
    '[ge]', 'accept = 127.0.0.1:' + tlsPort, 'connect = 127.0.0.1:' + stack.server.port,
    'cert = ' + path.join(dir, 'cert.pem'), 'key = ' + path.join(dir, 'key.pem'), '',
  ].join('\n'));
  tunnel = spawnOwned(STUNNEL, [path.join(dir, 'stunnel.conf')], { stdio: 'ignore' });
  await h.waitPort(tlsPort);
});

tap.teardown(async () => {
  if (tunnel) { tunnel.kill('SIGTERM'); await new Promise((r) => tunnel.once('exit', r)); }
  if (stack) await stack.server.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

tap.test('send and listen over https, certificate verified', Object.assign({ skip: NO_STUNNEL }, T), async (t) => {
  const ch = h.unique('tls');
  const c = new h.Client(h.unique('cid'), {
    secret: stack.server.secret, protocol: 'https', hostname: 'localhost', port: tlsPort, caFile: path.join(dir, 'cert.pem'),
  });
  try {
    const header = await h.cb2p((cb) => c.send(ch, { from: 'tls', type: 'secure', data: { n: 1 } }, cb));
    t.equal(header.id, 1);
    const got = [];
    c.on(ch, (e) => got.push(e));
    const [[cy]] = await h.collect(c, 'cycle', 1);
    t.equal(cy.next.after, 1);
    t.strictSame(got.map((e) => [e.id, e.type, e.data.n]), [[1, 'secure', 1]]);
    // A second event rides the same (kept-alive) TLS connection.
    await h.cb2p((cb) => c.send(ch, { from: 'tls', type: 'again' }, cb));
    while (got.length < 2) await h.collect(c, 'cycle', 1);
    t.equal(got[1].type, 'again');
  } finally {
    c.close();
  }
});

tap.test('an untrusted certificate is an error (status 0), not a silent success', Object.assign({ skip: NO_STUNNEL }, T), async (t) => {
  const c = new h.Client(h.unique('cid'), { secret: stack.server.secret, protocol: 'https', hostname: 'localhost', port: tlsPort });
  try {
    const err = await new Promise((resolve) => c.send(h.unique('tls'), { from: 'a', type: 'b' }, resolve));
    if (!t.ok(err instanceof Error)) return;
    t.equal(err.statusCode, 0);
    t.equal(err.code, 'CERT_VERIFY_FAILED');
  } finally {
    c.close();
  }
});
