'use strict';
// `make install DESTDIR=... PREFIX=/usr` installs the client library
// (shared with a soname, and static), the header, ganomede-events.pc, the
// daemon, the CLI and the man pages; a program outside the tree builds
// with `cc prog.c $(pkg-config --cflags --libs ganomede-events)` and talks
// to the real daemon. The install is built in a private folder with plain
// flags (whatever GE_BUILD the suite uses, e.g. with sanitizers).
const tap = require('tap');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { missing } = require('../lib/procs');
const h = require('../lib/harness');

const T = { timeout: h.limit(180000) };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-install-'));
const root = path.join(tmp, 'root');
let server;

const PROG = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ganomede_events.h>

int main(int argc, char **argv) {
    ge_client_options o;
    ge_client_options_init(&o);
    o.hostname = "127.0.0.1";
    o.port = (unsigned)atoi(argv[1]);
    o.secret = getenv("API_SECRET");
    o.client_id = "outside";
    ge_client *c = ge_client_new(&o, NULL);
    if (!c || argc < 3) return 2;
    ge_result r;
    if (ge_client_send_sync(c, argv[2], "outside/v1", "HELLO", "{\\"from\\":\\"outside\\"}", 18, &r) != GE_OK) {
        fprintf(stderr, "%d %s %s\\n", r.status, r.code, r.message);
        return 1;
    }
    printf("%s\\n", r.json);
    ge_result_free(&r);
    int rc = ge_client_latest_sync(c, argv[2], 10, &r);
    printf("%s\\n", rc == GE_OK ? r.json : r.code);
    ge_result_free(&r);
    ge_client_free(c);
    return rc == GE_OK ? 0 : 1;
}
`;

// A command that must succeed: its exit status is asserted on t, and a
// failure ends the test there, as what follows works on its output.
function sh(t, cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, Object.assign({ encoding: 'utf8' }, opts));
  if (!t.equal(r.status, 0, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`)) throw new Error(cmd + ' failed');
  return r.stdout;
}

tap.before(async () => { server = await h.startServer(); });
tap.teardown(async () => {
  await server.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

tap.test('make install DESTDIR PREFIX=/usr lays out every file', T, async (t) => {
  sh(t, 'make', ['-s', '-j2', '-C', h.ROOT, 'install', 'BUILD=' + path.join(tmp, 'build'), 'CFLAGS=-O2',
    'LDFLAGS=', 'DESTDIR=' + root, 'PREFIX=/usr']);
  for (const f of ['bin/ganomede-events', 'bin/ganomede-events-server', 'lib/libganomede-events.so.1',
    'lib/libganomede-events.so', 'lib/libganomede-events.a', 'include/ganomede_events.h',
    'lib/pkgconfig/ganomede-events.pc', 'share/man/man1/ganomede-events.1', 'share/man/man1/ganomede-events-server.1'])
    t.ok(fs.existsSync(path.join(root, 'usr', f)), f);
  t.equal(fs.readlinkSync(path.join(root, 'usr/lib/libganomede-events.so')), 'libganomede-events.so.1');
  const dyn = sh(t, 'readelf', ['-d', path.join(root, 'usr/lib/libganomede-events.so.1')]);
  t.match(dyn, /SONAME.*\[libganomede-events\.so\.1\]/);
  t.match(dyn, /NEEDED.*libcurl/);
  t.notMatch(dyn, /hiredis|libevent/, 'clients need neither hiredis nor libevent');
  const syms = sh(t, 'nm', ['-D', '--defined-only', path.join(root, 'usr/lib/libganomede-events.so.1')]);
  t.match(syms, / ge_client_new$/m);
  t.notMatch(syms, / ge__/, 'internal symbols are not exported');
  const pc = fs.readFileSync(path.join(root, 'usr/lib/pkgconfig/ganomede-events.pc'), 'utf8');
  t.match(pc, /^prefix=\/usr$/m);
  // The installed tools run and the man pages render.
  t.match(sh(t, path.join(root, 'usr/bin/ganomede-events'), ['--help']), /^Usage: ganomede-events /);
});

// scripts/deps.sh installs groff; without it the check is a visible skip,
// which scripts/test.sh counts as a failure.
tap.test('the installed man pages render without a warning', Object.assign({ skip: missing('groff') }, T), async (t) => {
  for (const m of ['ganomede-events.1', 'ganomede-events-server.1']) {
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', path.join(root, 'usr/share/man/man1', m)], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stderr, '', m + ': ' + r.stderr);
  }
});

tap.test('a program outside the tree builds with pkg-config and talks to the daemon', T, async (t) => {
  const dir = path.join(tmp, 'outside');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'prog.c'), PROG);
  const env = Object.assign({}, process.env, {
    PKG_CONFIG_SYSROOT_DIR: root,
    PKG_CONFIG_PATH: path.join(root, 'usr/lib/pkgconfig'),
  });
  // Exactly the documented command line, through a shell.
  sh(t, 'sh', ['-c', 'cc -std=c11 -Wall -Werror prog.c $(pkg-config --cflags --libs ganomede-events) -o prog'], { cwd: dir, env });
  const ch = h.unique('outside');
  const out = sh(t, path.join(dir, 'prog'), [String(server.port), ch], {
    env: { PATH: process.env.PATH, API_SECRET: h.SECRET, LD_LIBRARY_PATH: path.join(root, 'usr/lib') },
  });
  const [sent, latest] = out.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(sent.id, 1);
  t.strictSame(sent.data, { from: 'outside' });
  t.strictSame(latest, [sent]);
  // It really uses the installed shared library.
  const ldd = sh(t, 'ldd', [path.join(dir, 'prog')], { env: { LD_LIBRARY_PATH: path.join(root, 'usr/lib') } });
  t.ok(ldd.includes(path.join(root, 'usr/lib/libganomede-events.so.1')), ldd);

  // And statically, with the .a and its private dependencies.
  const libs = sh(t, 'pkg-config', ['--libs', 'libcurl']).trim();
  sh(t, 'sh', ['-c', `cc -std=c11 prog.c $(pkg-config --cflags ganomede-events) ${root}/usr/lib/libganomede-events.a ${libs} -lpthread -lm -o prog-static`], { cwd: dir, env });
  const out2 = sh(t, path.join(dir, 'prog-static'), [String(server.port), ch], { env: { PATH: process.env.PATH, API_SECRET: h.SECRET } });
  t.equal(JSON.parse(out2.split('\n')[0]).id, 2);
});

tap.test('make uninstall removes what install put', T, async (t) => {
  sh(t, 'make', ['-s', '-C', h.ROOT, 'uninstall', 'BUILD=' + path.join(tmp, 'build'), 'DESTDIR=' + root, 'PREFIX=/usr']);
  const left = execFileSync('find', [root, '-type', 'f,l'], { encoding: 'utf8' }).trim();
  t.equal(left, '');
});
