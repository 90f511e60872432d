'use strict';
// The container parts (Dockerfile, docker/*.sh) and the systemd unit. No
// Docker engine runs in CI, so this does what the image build does, outside
// Docker: copy the sources into a fresh folder, run docker/build.sh there
// into a staged root, and run the staged daemon through the staged
// entrypoint against the test Redis. The image itself is built and checked by
// test/js/install-image.test.js.
const tap = require('tap');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync, execFileSync } = require('node:child_process');
const { spawnOwned, missing } = require('../lib/procs');
const { ROOT, freePort, request, sleep, unique, waitPort, startRedis, limit } = require('../lib/harness');

const T = { timeout: limit(60000) };

const read = (f) => fs.readFileSync(path.join(ROOT, f), 'utf8');
const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
// A minimal environment, like a container's: nothing of ours leaks in.
const baseEnv = () => ({ PATH: process.env.PATH, LANG: 'C.UTF-8' });

let tmp, stage, bin, redis, redisPort;

// .dockerignore as Docker reads it (enough of it for ours): each pattern
// is a glob rooted at the context; a match excludes the path and, for a
// folder, all under it. "!" exceptions are not supported (t asserts that
// none is used).
function dockerIgnored(t) {
  const pats = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  t.ok(!pats.some((p) => p.startsWith('!')), '"!" patterns are not modelled here');
  const res = pats.map((p) => new RegExp('^' + p.replace(/^\/+|\/+$/g, '').split('**/').map((part) =>
    part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('(?:.*/)?') + '(?:/|$)'));
  return (f) => res.some((re) => re.test(f));
}

tap.before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-container-'));
  // The Docker build context: the files a checkout has (tracked ones plus
  // new, not git-ignored ones: in CI both are the commit; locally, files a
  // colleague has not added yet are still part of the tree the Makefile
  // sees) less what .dockerignore leaves out.
  const ignored = dockerIgnored(tap);
  const list = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT })
    .toString().split('\0').filter((f) => f && !ignored(f));
  for (const f of list) {
    const from = path.join(ROOT, f);
    let st;
    try { st = fs.lstatSync(from); } catch (_) { continue; } // deleted, not yet committed
    if (!st.isFile()) continue;
    fs.mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
    fs.copyFileSync(from, path.join(tmp, f));
    fs.chmodSync(path.join(tmp, f), st.mode & 0o777);
  }
  stage = path.join(tmp, 'stage');
  const b = spawnSync('sh', ['docker/build.sh', stage], { cwd: tmp, env: baseEnv(), encoding: 'utf8', timeout: 50000 });
  // Every test runs the staged tree: without it, none runs.
  if (!tap.equal(b.status, 0, 'docker/build.sh failed:\n' + b.stdout + b.stderr)) throw new Error('docker/build.sh failed');
  bin = path.join(stage, 'usr/local/bin');
  if (process.env.GE_TEST_REDIS_PORT) redisPort = Number(process.env.GE_TEST_REDIS_PORT);
  else { redis = await startRedis(); redisPort = redis.port; }
});

tap.teardown(async () => {
  if (redis) await redis.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// The staged entrypoint (the image's ENTRYPOINT) with env over baseEnv().
function entrypoint(args, env) {
  const proc = spawnOwned(path.join(bin, 'ganomede-events-entrypoint'), args,
    { cwd: tmp, env: Object.assign(baseEnv(), env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  // 'close', not 'exit': stdout and stderr are complete by then.
  const exited = new Promise((r) => proc.once('close', (code, signal) => r({ code, signal })));
  return { proc, exited, get stdout() { return stdout; }, get stderr() { return stderr; } };
}

async function waitHealth(url, proc, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (proc.exitCode !== null) throw new Error('server exited ' + proc.exitCode);
    try { if ((await fetch(url + '/health')).status === 200) return; } catch (_) { /* not yet */ }
    if (Date.now() > deadline) throw new Error('never healthy: ' + url);
    await sleep(25);
  }
}

// The Dockerfile and docker-compose.yml are proven by building the image:
// test/js/install-image.test.js (docker/test-image.sh).

tap.test('the staged tree: daemon, entrypoint, healthcheck; runtime packages cover its libraries', T, async (t) => {
  for (const f of ['ganomede-events-server', 'ganomede-events-entrypoint', 'ganomede-events-healthcheck']) {
    const st = fs.statSync(path.join(bin, f));
    t.ok(st.mode & 0o111, f + ' executable');
  }
  const v = spawnSync(path.join(bin, 'ganomede-events-entrypoint'), ['--version'], { env: baseEnv(), encoding: 'utf8' });
  t.equal(v.status, 0, v.stderr);
  t.match(v.stdout, /^ganomede-events-server \d+\.\d+\.\d+/);

  // Each library the daemon links comes from a package runtime-deps.sh
  // installs (or from libc6, in every image).
  const pkgs = execFileSync('sh', [path.join(tmp, 'docker/runtime-deps.sh'), '--list']).toString().trim().split(/\s+/);
  const needed = execFileSync('readelf', ['-d', path.join(bin, 'ganomede-events-server')]).toString()
    .split('\n').map((l) => (l.match(/\(NEEDED\)\s+Shared library: \[(.+)\]/) || [])[1]).filter(Boolean);
  t.ok(needed.some((n) => n.startsWith('libhiredis')), needed.join(' '));
  const ldcache = execFileSync('ldconfig', ['-p']).toString();
  for (const lib of needed) {
    const m = ldcache.match(new RegExp('^\\s+' + lib.replace(/[.+]/g, '\\$&') + ' \\(libc6,x86-64[^)]*\\) => (\\S+)', 'm')) ||
      ldcache.match(new RegExp('^\\s+' + lib.replace(/[.+]/g, '\\$&') + ' \\([^)]*\\) => (\\S+)', 'm'));
    if (!t.ok(m, lib + ' in ld cache')) continue;
    // dpkg records /lib/... on merged-/usr systems, /usr/lib/... elsewhere.
    const real = fs.realpathSync(m[1]);
    const owners = [real, real.replace(/^\/usr\/lib\//, '/lib/')].map((p) => spawnSync('dpkg', ['-S', p], { encoding: 'utf8' }))
      .filter((r) => r.status === 0);
    if (!t.ok(owners.length, 'no package owns ' + real)) continue;
    const owner = owners[0].stdout.split(':')[0];
    t.ok(owner === 'libc6' || pkgs.includes(owner), lib + ' comes from ' + owner + ', not in runtime-deps.sh (' + pkgs.join(' ') + ')');
  }
  const c = spawnSync('sh', [path.join(tmp, 'docker/runtime-deps.sh'), '--check'], { encoding: 'utf8' });
  t.equal(c.status, 0, c.stderr);
});

tap.test('the entrypoint refuses to start without API_SECRET, with a clear message', T, async (t) => {
  for (const secret of [undefined, '']) {
    const env = { PORT: String(await freePort()) };
    if (secret !== undefined) env.API_SECRET = secret;
    const e = entrypoint([], env);
    const r = await e.exited;
    t.not(r.code, 0);
    t.match(e.stderr, /API_SECRET is not set/);
    t.match(e.stderr, /-e API_SECRET=/);
  }
  const e = entrypoint([], { API_SECRET_FILE: path.join(tmp, 'no-such-secret') });
  t.not((await e.exited).code, 0);
  t.match(e.stderr, /API_SECRET_FILE=.*not readable/);
});

tap.test('the entrypoint: link variables pass through, defaults to redis_events:6379, API_SECRET_FILE', T, async (t) => {
  let e = entrypoint(['env'], {});
  t.equal((await e.exited).code, 0, e.stderr);
  t.match(e.stdout, /^REDIS_EVENTS_PORT_6379_TCP_ADDR=redis_events$/m);
  t.match(e.stdout, /^REDIS_EVENTS_PORT_6379_TCP_PORT=6379$/m);
  // What `--link redis_events:redis_events` sets.
  e = entrypoint(['env'], { REDIS_EVENTS_PORT_6379_TCP_ADDR: '172.17.0.2', REDIS_EVENTS_PORT_6379_TCP_PORT: '6380' });
  t.equal((await e.exited).code, 0, e.stderr);
  t.match(e.stdout, /^REDIS_EVENTS_PORT_6379_TCP_ADDR=172\.17\.0\.2$/m);
  t.match(e.stdout, /^REDIS_EVENTS_PORT_6379_TCP_PORT=6380$/m);
  const file = path.join(tmp, 'secret');
  fs.writeFileSync(file, 'from-a-file\n', { mode: 0o600 });
  e = entrypoint(['env'], { API_SECRET_FILE: file });
  t.equal((await e.exited).code, 0, e.stderr);
  t.match(e.stdout, /^API_SECRET=from-a-file$/m);
});

tap.test('the staged server runs through the entrypoint: health, publish + read, healthcheck, SIGTERM exits 0', T, async (t) => {
  const port = await freePort();
  const secret = 'container-' + process.pid;
  const url = 'http://127.0.0.1:' + port;
  const e = entrypoint([], {
    API_SECRET: secret, PORT: String(port), HOST: '127.0.0.1', POLL_TIMEOUT: '5000', LOG_LEVEL: 'INFO',
    REDIS_EVENTS_PORT_6379_TCP_ADDR: '127.0.0.1', REDIS_EVENTS_PORT_6379_TCP_PORT: String(redisPort),
  });
  try {
    await Promise.race([waitPort(port, 10000), e.exited.then((r) => { throw new Error('exited ' + JSON.stringify(r) + e.stderr); })]);
    await waitHealth(url, e.proc, 10000);
    // The entrypoint exec'd the daemon: the process we started is it, so
    // docker stop's SIGTERM reaches it directly.
    t.equal(fs.realpathSync('/proc/' + e.proc.pid + '/exe'), fs.realpathSync(path.join(bin, 'ganomede-events-server')));

    const channel = unique('container');
    const pub = await request(url, 'POST', '/events/v1/events',
      { secret, clientId: 'ops', channel, from: 'ops-test', type: 'PING', data: { n: 1 } });
    t.equal(pub.status, 200, pub.body);
    t.equal(pub.json.id, 1);
    const got = await request(url, 'GET', '/events/v1/events?' + q({ secret, clientId: 'reader', channel, after: 0 }));
    t.equal(got.status, 200, got.body);
    t.strictSame(got.json.map((ev) => [ev.id, ev.type, ev.from, ev.data]), [[1, 'PING', 'ops-test', { n: 1 }]]);
    const page = await request(url, 'GET', '/events/v1/console');
    t.equal(page.status, 200, 'the console is built into the staged daemon');
    t.match(page.body, /<title>ganomede-events console<\/title>/);

    // The image's HEALTHCHECK command, against this server and a closed port.
    const hc = path.join(bin, 'ganomede-events-healthcheck');
    let h = spawnSync(hc, [], { env: Object.assign(baseEnv(), { HOST: '0.0.0.0', PORT: String(port) }), encoding: 'utf8', timeout: 10000 });
    t.equal(h.status, 0, h.stderr);
    h = spawnSync(hc, [], { env: Object.assign(baseEnv(), { PORT: String(await freePort()) }), encoding: 'utf8', timeout: 10000 });
    t.equal(h.status, 1);
    t.match(h.stderr, /unhealthy/);
  } finally {
    if (e.proc.exitCode === null) e.proc.kill('SIGTERM');
  }
  const r = await Promise.race([e.exited, sleep(10000).then(() => ({ timeout: true }))]);
  t.strictSame(r, { code: 0, signal: null }, e.stderr);
  // bunyan lines on stdout, as the original's.
  const first = JSON.parse(e.stdout.split('\n')[0]);
  for (const k of ['name', 'hostname', 'pid', 'level', 'msg', 'time', 'v']) t.ok(k in first, k);
  t.equal(first.pid, e.proc.pid);
});

tap.test('the healthcheck reports 503 (Redis unreachable) as unhealthy', T, async (t) => {
  const port = await freePort();
  const e = entrypoint([], {
    API_SECRET: 's', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'FATAL',
    REDIS_EVENTS_PORT_6379_TCP_ADDR: '127.0.0.1', REDIS_EVENTS_PORT_6379_TCP_PORT: String(await freePort()),
  });
  try {
    await waitPort(port, 10000);
    const h = spawnSync(path.join(bin, 'ganomede-events-healthcheck'), [],
      { env: Object.assign(baseEnv(), { HOST: '127.0.0.1', PORT: String(port) }), encoding: 'utf8', timeout: 10000 });
    t.equal(h.status, 1);
    t.match(h.stderr, /unhealthy: HTTP\/1\.1 503/);
  } finally { e.proc.kill('SIGTERM'); }
  t.equal((await e.exited).code, 0);
});

tap.test('systemd unit: runs the installed daemon as events, hardened', T, async (t) => {
  const unit = read('packaging/ganomede-events.service');
  t.match(unit, /^ExecStart=\/usr\/local\/bin\/ganomede-events-server$/m);
  t.match(unit, /^User=events$/m);
  t.match(unit, /^Type=simple$/m);
  t.match(unit, /^EnvironmentFile=-\/etc\/default\/ganomede-events$/m);
  t.match(unit, /^Restart=on-failure$/m);
  for (const k of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes']) {
    t.match(unit, new RegExp('^' + k + '$', 'm'));
  }
  // The default file names the original server's variables (README,
  // "Configuration"); any other variable
  // the daemon's --help lists and the file lacks is reported, not failed
  // (the daemon gains options faster than this file).
  const help = execFileSync(path.join(bin, 'ganomede-events-server'), ['--help']).toString();
  const def = read('packaging/ganomede-events.default');
  const vars = help.split('\n').map((l) => (l.match(/^ {2}([A-Z][A-Z0-9_]+(?:, [A-Z][A-Z0-9_]+)*) /) || [])[1])
    .filter(Boolean).flatMap((l) => l.split(', '));
  t.ok(vars.includes('API_SECRET') && vars.includes('LOG_LEVEL'), vars.join(' '));
  const originalVars = ['API_SECRET', 'REDIS_EVENTS_PORT_6379_TCP_ADDR', 'REDIS_EVENTS_PORT_6379_TCP_PORT', 'POLL_TIMEOUT', 'PORT', 'HOST', 'LOG_LEVEL'];
  for (const v of new Set(originalVars.concat(vars))) {
    const named = new RegExp('^#?' + v + '=', 'm').test(def);
    if (originalVars.includes(v)) t.ok(named, v + ' in ganomede-events.default');
    else if (!named) t.comment(v + ' (from --help) is not in packaging/ganomede-events.default');
  }
});

// scripts/deps.sh installs systemd-analyze (package systemd); without it
// the check is a visible skip, which scripts/test.sh counts as a failure.
tap.test('systemd unit: systemd-analyze verify finds nothing', Object.assign({ skip: missing('systemd-analyze') }, T), async (t) => {
  const unit = read('packaging/ganomede-events.service');
  // verify wants ExecStart to exist: point it at the staged daemon.
  const copy = path.join(tmp, 'ganomede-events.service');
  fs.writeFileSync(copy, unit.replace(/^ExecStart=\S+/m, 'ExecStart=' + path.join(bin, 'ganomede-events-server')));
  const v = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8', timeout: 20000 });
  t.equal(v.status, 0, v.stderr);
  t.equal((v.stdout + v.stderr).trim(), '', 'systemd-analyze verify warnings');
});
