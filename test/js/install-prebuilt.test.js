'use strict';
// The packed npm tarball installs where users are (README.md, "Installing the npm package"): in a
// clean Debian 12 root with only Debian's nodejs, npm and ca-certificates
// (no compiler, no libcurl4), `npm install` uses the prebuilt addon and
// compiles nothing; the daemon is skipped with one line saying how to get
// it; the installed Client publishes and receives over http against our
// daemon, and over https through a TLS front (stunnel) trusting the front's
// certificate through caFile, PEM text and a Buffer in agent.options.ca;
// where the install builds the daemon, it serves the console.
const t = require('tap');
const { spawnSync, execFileSync } = require('node:child_process');
const { spawnOwned, which, missing } = require('../lib/procs');
const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../lib/install-harness');
const { startServer, startRedis, freePort, waitPort, limit } = require('../lib/harness');

const why = h.unavailable();
t.setTimeout(limit(50 * 60000));
// Debian's stunnel4 package installs stunnel4 (and stunnel on newer releases).
const STUNNEL = ['stunnel4', 'stunnel'].find(which);
const NO_STUNNEL = !STUNNEL && missing('stunnel4');

t.test('clean Debian 12 root: install without a compiler, round trips over http and https', { timeout: limit(45 * 60000), skip: why || NO_STUNNEL }, async (t) => {
  const pack = h.packTarball(['x64', 'arm64']);
  t.teardown(() => fs.rmSync(pack.dir, { recursive: true, force: true }));
  t.comment(`tarball ${path.basename(pack.file)}: ${(pack.size / 1048576).toFixed(2)} MB packed, ${(pack.unpackedSize / 1048576).toFixed(2)} MB unpacked`);
  t.ok(pack.size < 5 * 1048576, 'the tarball is under 5 MB');

  const R = h.rootfs('node', 'amd64');
  const probe = h.inRoot(R, 'for c in cc gcc g++ clang make; do command -v $c && exit 1; done; ' +
    'if dpkg -l libcurl4 2>/dev/null | grep -q ^ii; then echo libcurl4; exit 1; fi; node -v');
  t.equal(probe.status, 0, 'the root has no compiler, no make, no libcurl4: ' + probe.stdout + probe.stderr);

  const w = h.workDir(R);
  t.teardown(w.rm);
  fs.copyFileSync(pack.file, path.join(w.host, 'pkg.tgz'));
  fs.mkdirSync(path.join(w.host, 'app'));
  fs.writeFileSync(path.join(w.host, 'app', 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
  const inst = h.inRoot(R, 'cd app && npm install --no-audit --no-fund ../pkg.tgz', { home: w.inside, timeout: 5 * 60000 });
  t.equal(inst.status, 0, 'npm install succeeds: ' + inst.stdout + inst.stderr);
  t.comment(`npm install in the clean root: ${(inst.ms / 1000).toFixed(1)} s`);
  const pkgDir = path.join(w.host, 'app', 'node_modules', 'ganomede-events');
  t.notOk(fs.existsSync(path.join(pkgDir, 'build', 'Release', 'ganomede_events.node')), 'no addon was compiled');
  t.ok(fs.existsSync(path.join(pkgDir, 'prebuilds', 'linux-x64', 'ganomede-events.node')), 'the prebuilt addon is there');

  const bin = h.inRoot(R, 'cd app && ./node_modules/.bin/ganomede-events-server --version', { home: w.inside });
  t.equal(bin.status, 1, 'the daemon bin entry exits 1');
  t.match(bin.stderr, /not part of this install.*hiredis and libevent.*image/s, 'and says how to get the daemon');

  let redisPort = process.env.GE_TEST_REDIS_PORT;
  if (!redisPort) {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    redisPort = redis.port;
  }
  const server = await startServer({ redisPort, env: { POLL_TIMEOUT: '1000' } });
  t.teardown(() => server.stop());
  const certDir = fs.mkdtempSync(path.join(w.host, 'tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')], { stdio: 'ignore' });
  const tlsPort = await freePort();
  fs.writeFileSync(path.join(certDir, 'stunnel.conf'), ['foreground = yes', 'pid =', '[ge]',
    'accept = 127.0.0.1:' + tlsPort, 'connect = 127.0.0.1:' + server.port,
    'cert = ' + path.join(certDir, 'cert.pem'), 'key = ' + path.join(certDir, 'key.pem'), ''].join('\n'));
  const tunnel = spawnOwned(STUNNEL, [path.join(certDir, 'stunnel.conf')], { stdio: 'ignore' });
  t.teardown(() => tunnel.kill('SIGTERM'));
  await waitPort(tlsPort);

  fs.copyFileSync(path.join(h.ROOT, 'test', 'install', 'roundtrip.js'), path.join(w.host, 'app', 'roundtrip.js'));
  const rt = h.inRoot(R, 'cd app && node roundtrip.js', {
    home: w.inside, timeout: 60000,
    env: { GE_PORT: server.port, GE_TLS_PORT: tlsPort, GE_SECRET: server.secret, GE_CA: w.inside + '/' + path.basename(certDir) + '/cert.pem' },
  });
  t.equal(rt.status, 0, 'round trips succeed: ' + rt.stdout + rt.stderr);
  const names = rt.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).name);
  t.same(names, ['http', 'https-caFile', 'https-agent-ca-pem', 'https-agent-ca-buffer'], 'every way round');
});

// The same tarball on arm64 (Debian's arm64 nodejs under qemu-user-static):
// the linux-arm64 prebuild installs and an http round trip works.
t.test('arm64 Debian 12 root under qemu: install and an http round trip', { timeout: limit(45 * 60000), skip: why }, async (t) => {
  const pack = h.packTarball(['x64', 'arm64']);
  t.teardown(() => fs.rmSync(pack.dir, { recursive: true, force: true }));
  const R = h.rootfs('node', 'arm64');
  const w = h.workDir(R);
  t.teardown(w.rm);
  fs.copyFileSync(pack.file, path.join(w.host, 'pkg.tgz'));
  fs.mkdirSync(path.join(w.host, 'app'));
  fs.writeFileSync(path.join(w.host, 'app', 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
  const arch = h.inRoot(R, 'node -p process.arch', { home: w.inside, timeout: 120000 });
  t.equal(arch.stdout.trim(), 'arm64', 'node runs as arm64 there');
  const inst = h.inRoot(R, 'cd app && npm install --no-audit --no-fund ../pkg.tgz', { home: w.inside, timeout: 10 * 60000 });
  t.equal(inst.status, 0, 'npm install succeeds: ' + inst.stdout + inst.stderr);
  t.comment(`npm install in the arm64 root (qemu): ${(inst.ms / 1000).toFixed(1)} s`);
  t.notOk(fs.existsSync(path.join(w.host, 'app', 'node_modules', 'ganomede-events', 'build', 'Release', 'ganomede_events.node')), 'no addon was compiled');

  let redisPort = process.env.GE_TEST_REDIS_PORT;
  if (!redisPort) {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    redisPort = redis.port;
  }
  const server = await startServer({ redisPort, env: { POLL_TIMEOUT: '1000' } });
  t.teardown(() => server.stop());
  fs.copyFileSync(path.join(h.ROOT, 'test', 'install', 'roundtrip.js'), path.join(w.host, 'app', 'roundtrip.js'));
  const rt = h.inRoot(R, 'cd app && node roundtrip.js', {
    home: w.inside, timeout: 120000, env: { GE_PORT: server.port, GE_SECRET: server.secret },
  });
  t.equal(rt.status, 0, 'the round trip succeeds: ' + rt.stdout + rt.stderr);
  t.match(rt.stdout, /"name":"http"/, 'http');
});

// A developer's machine: a compiler, Python and libcurl's headers, but not
// hiredis or libevent. The tarball installs (prebuilt addon, no daemon) and
// says once how to get the daemon; the Client works; the bin entry explains.
// Then the same package compiled from source there (--build-from-source),
// in a folder with a .git (as a clone or a git-URL install has) and with
// build flags that warn more (CFLAGS=-Wpadded stands in for a newer
// compiler's new warning): it builds, warns without failing, and works.
t.test('root with a compiler but no hiredis/libevent: install, Client, bin entry, source build', { timeout: limit(45 * 60000), skip: why }, async (t) => {
  const pack = h.packTarball(['x64', 'arm64']);
  t.teardown(() => fs.rmSync(pack.dir, { recursive: true, force: true }));
  const R = h.rootfs('devnode', 'amd64');
  const probe = h.inRoot(R, 'command -v cc && command -v make && test -f /usr/include/x86_64-linux-gnu/curl/curl.h && ' +
    'test ! -e /usr/include/hiredis && test ! -e /usr/include/event2');
  t.equal(probe.status, 0, 'the root has a compiler and libcurl headers, no hiredis/libevent: ' + probe.stdout + probe.stderr);

  const w = h.workDir(R);
  t.teardown(w.rm);
  fs.copyFileSync(pack.file, path.join(w.host, 'pkg.tgz'));
  fs.mkdirSync(path.join(w.host, 'app'));
  fs.writeFileSync(path.join(w.host, 'app', 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
  // npm >= 7 shows an install script's output only with --foreground-scripts.
  const inst = h.inRoot(R, 'cd app && npm install --no-audit --no-fund --foreground-scripts ../pkg.tgz', { home: w.inside, timeout: 5 * 60000 });
  t.equal(inst.status, 0, 'npm install succeeds: ' + inst.stdout + inst.stderr);
  t.comment(`npm install in the compiler root: ${(inst.ms / 1000).toFixed(1)} s`);
  const hint = (inst.stdout + inst.stderr).split('\n').filter((l) => /the daemon \(ganomede-events-server\) was not built/.test(l));
  t.equal(hint.length, 1, 'one line about the daemon: ' + inst.stdout + inst.stderr);
  t.match(hint[0] || '', /hiredis and libevent.*image.*make daemon/, 'saying how to get it');
  const pkgDir = path.join(w.host, 'app', 'node_modules', 'ganomede-events');
  t.notOk(fs.existsSync(path.join(pkgDir, 'build', 'Release', 'ganomede_events.node')), 'the prebuilt addon serves: nothing compiled');

  const bin = h.inRoot(R, 'cd app && npx --no-install ganomede-events-server --version', { home: w.inside });
  t.equal(bin.status, 1, '`npx ganomede-events-server` exits 1');
  t.match(bin.stderr, /not part of this install.*hiredis and libevent.*image/s, 'and explains');

  let redisPort = process.env.GE_TEST_REDIS_PORT;
  if (!redisPort) {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    redisPort = redis.port;
  }
  const server = await startServer({ redisPort, env: { POLL_TIMEOUT: '1000' } });
  t.teardown(() => server.stop());
  const env = { GE_PORT: server.port, GE_SECRET: server.secret };
  fs.copyFileSync(path.join(h.ROOT, 'test', 'install', 'roundtrip.js'), path.join(w.host, 'app', 'roundtrip.js'));
  const rt = h.inRoot(R, 'cd app && node roundtrip.js', { home: w.inside, timeout: 60000, env });
  t.equal(rt.status, 0, 'the Client round-trips over http: ' + rt.stdout + rt.stderr);
  t.match(rt.stdout, /"name":"http"/, 'http');

  // From source: the package's files in src/ (with a .git), built there.
  const src = path.join(w.host, 'src');
  fs.mkdirSync(path.join(src, '.git'), { recursive: true });
  execFileSync('tar', ['-xzf', pack.file, '-C', src, '--strip-components=1']);
  const build = h.inRoot(R, 'cd src && CFLAGS=-Wpadded npm install --omit=dev --no-audit --no-fund --foreground-scripts --build-from-source',
    { home: w.inside, timeout: 15 * 60000 });
  t.equal(build.status, 0, 'the source build succeeds: ' + build.stdout.slice(-4000) + build.stderr.slice(-4000));
  t.comment(`npm install --build-from-source in the compiler root: ${(build.ms / 1000).toFixed(1)} s`);
  t.match(build.stdout + build.stderr, /warning: .*-Wpadded/, 'the extra warnings were printed, not made errors');
  t.ok(fs.existsSync(path.join(src, 'build', 'Release', 'ganomede_events.node')), 'the addon was compiled');
  fs.mkdirSync(path.join(w.host, 'app2', 'node_modules'), { recursive: true });
  fs.symlinkSync('../../src', path.join(w.host, 'app2', 'node_modules', 'ganomede-events'));
  fs.copyFileSync(path.join(h.ROOT, 'test', 'install', 'roundtrip.js'), path.join(w.host, 'app2', 'roundtrip.js'));
  const which = h.inRoot(R, 'cd app2 && node -p "require(\'node-gyp-build\').path(\'node_modules/ganomede-events\')"',
    { home: w.inside, env: { NODE_PATH: w.inside + '/src/node_modules' } });
  t.match(which.stdout, /build\/Release\/ganomede_events\.node/, 'the compiled addon is the one loaded: ' + which.stdout + which.stderr);
  const rt2 = h.inRoot(R, 'cd app2 && node roundtrip.js', { home: w.inside, timeout: 60000, env });
  t.equal(rt2.status, 0, 'the source-built Client round-trips over http: ' + rt2.stdout + rt2.stderr);
});

// A machine with every library the daemon needs (this one: Debian 12 with
// libhiredis-dev, libevent-dev and libcurl4-openssl-dev, whose curl/curl.h
// lives under /usr/include/x86_64-linux-gnu/): the install builds the
// daemon too, and the bin entry runs it.
t.test('machine with hiredis, libevent and libcurl headers: the install builds the daemon', { timeout: limit(20 * 60000), skip: why }, async (t) => {
  const pack = h.packTarball(['x64', 'arm64']);
  t.teardown(() => fs.rmSync(pack.dir, { recursive: true, force: true }));
  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-app-'));
  t.teardown(() => fs.rmSync(app, { recursive: true, force: true }));
  fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
  const env = Object.assign({}, process.env);
  for (const k of Object.keys(env)) if (/^(npm_|GE_WERROR$|GE_DAEMON$|GE_CURL_PREFIX$)/i.test(k)) delete env[k];
  env.npm_config_nodedir = '/usr';
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', pack.file],
    { cwd: app, env, encoding: 'utf8', timeout: 15 * 60000, maxBuffer: 64 << 20 });
  t.equal(r.status, 0, 'npm install succeeds: ' + (r.stdout + r.stderr).slice(-4000));
  t.notMatch(r.stdout + r.stderr, /was not built/, 'no line about a missing daemon');
  const v = spawnSync(path.join(app, 'node_modules', '.bin', 'ganomede-events-server'), ['--version'],
    { cwd: app, env, encoding: 'utf8', timeout: 60000 });
  t.equal(v.status, 0, 'the bin entry runs the daemon: ' + v.stdout + v.stderr);
  t.match(v.stdout + v.stderr, /2\.0\.0|ganomede-events/, 'which prints its version');
  // The installed daemon serves the console built into it.
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const port = await freePort();
  const d = spawnOwned(path.join(app, 'node_modules', '.bin', 'ganomede-events-server'), [], {
    cwd: app, stdio: 'ignore',
    env: Object.assign({}, env, { API_SECRET: 's', HOST: '127.0.0.1', PORT: String(port),
      REDIS_EVENTS_PORT_6379_TCP_ADDR: '127.0.0.1', REDIS_EVENTS_PORT_6379_TCP_PORT: String(redis.port) }),
  });
  const gone = new Promise((r) => d.once('exit', r));
  t.teardown(async () => { d.kill('SIGTERM'); await gone; });
  await waitPort(port);
  for (const [p, type] of [['/events/v1/console', /text\/html/], ['/events/v1/console/vendor/uPlot.iife.min.js', /text\/javascript/]]) {
    const res = await fetch('http://127.0.0.1:' + port + p);
    t.equal(res.status, 200, 'the installed daemon serves ' + p);
    t.match(res.headers.get('content-type'), type);
  }
});
