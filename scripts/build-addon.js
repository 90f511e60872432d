'use strict';
// Builds the native parts with node-gyp. Three uses (README.md, "Installing the npm package"):
//
//   node scripts/build-addon.js --install   npm's install step. The addon: the
//       prebuilt one in prebuilds/ when node-gyp-build can load it here
//       (linux-x64, linux-arm64 glibc), else compiled from source (needs a
//       compiler and libcurl's headers). The daemon: built only when
//       hiredis', libevent's and http-parser's headers are there; otherwise one line says
//       how to get it, and the install still succeeds.
//   node scripts/build-addon.js             our development build (scripts/test.sh):
//       the addon and, when its libraries are there, the daemon, into build/.
//   node scripts/build-addon.js --print werror|curl-prefix|daemon
//       binding.gyp's switches, from the environment.
//
// `configure` + `build` rather than `rebuild`: rebuild starts by deleting
// build/, so that every build would compile everything again.
// Node's headers: when the caller did not choose (--nodedir / npm_config_nodedir)
// and the distribution ships them in /usr/include/node (Debian's nodejs-dev),
// use those instead of downloading a header tarball.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const DAEMON_HINT = 'ganomede-events: the daemon (ganomede-events-server) was not built: ' +
  'hiredis and libevent (or http-parser) headers are missing; get it from the container image ganomede/events, ' +
  'or install libhiredis-dev, libevent-dev and libhttp-parser-dev and run `npm rebuild ganomede-events`, ' +
  'or build it with `make daemon` from the source (README.md, "Installing the npm package").';

// Whether the C compiler finds these headers: asked of the compiler itself,
// so its own search path counts (Debian keeps curl/curl.h under
// /usr/include/<multiarch>/), as do CPATH and CPPFLAGS. No compiler: false.
function hasHeaders(names) {
  const src = names.map((n) => '#include <' + n + '>\n').join('');
  const r = spawnSync('sh', ['-c', '${CC:-cc} $CPPFLAGS -E -x c - -o /dev/null'],
    { input: src, stdio: ['pipe', 'ignore', 'ignore'] });
  return r.status === 0;
}

// -Werror is ours: only when our scripts ask (GE_WERROR=1: scripts/test.sh,
// scripts/prebuild.sh). Never implied by a .git folder: a user installing
// from a git URL has one, and a newer compiler's new warning must not fail
// their install.
function werror() {
  return process.env.GE_WERROR === '1' ? 1 : 0;
}

function daemonWanted() {
  if (process.env.GE_DAEMON !== undefined) return process.env.GE_DAEMON === '1' ? 1 : 0;
  return hasHeaders(['hiredis/async.h', 'event2/listener.h', 'http_parser.h', 'curl/curl.h']) ? 1 : 0;
}

if (process.argv[2] === '--print') {
  const what = process.argv[3];
  if (what === 'werror') console.log(werror());
  else if (what === 'curl-prefix') console.log(process.env.GE_CURL_PREFIX || '');
  else if (what === 'daemon') console.log(daemonWanted());
  else { console.error('build-addon.js --print werror|curl-prefix|daemon'); process.exit(2); }
  process.exit(0);
}

function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return [process.execPath, fromNpm];
  const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm',
    'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (fs.existsSync(bundled)) return [process.execPath, bundled];
  try { return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js')]; } catch (_) { /* PATH */ }
  return ['node-gyp'];
}

function gyp(steps, extra) {
  const args = [];
  const chosen = process.env.npm_config_nodedir || process.argv.some((a) => a.startsWith('--nodedir'));
  if (!chosen && fs.existsSync('/usr/include/node/node_api.h') && fs.existsSync('/usr/include/node/common.gypi')) {
    args.push('--nodedir=/usr');
  }
  if (process.env.GE_DEBUG_BUILD) args.push('--debug');
  const [cmd, ...pre] = nodeGyp();
  for (const step of steps) {
    const r = spawnSync(cmd, pre.concat([step], args, extra || []), { cwd: root, stdio: 'inherit' });
    if (r.error) { console.error(r.error.message); process.exit(1); }
    if (r.status !== 0) process.exit(r.status || 1);
  }
}

// Whether node-gyp-build finds an addon that loads here (a prebuild, or a
// previous build), tried in a child so a bad binary cannot take this process down.
function addonLoads() {
  const r = spawnSync(process.execPath, ['-e', 'require("node-gyp-build")(process.argv[1])', root],
    { cwd: root, stdio: 'ignore' });
  return r.status === 0;
}

if (process.argv[2] === '--install') {
  const haveAddon = process.env.npm_config_build_from_source !== 'true' && addonLoads();
  const daemon = daemonWanted() === 1;
  if (haveAddon && !daemon) {
    console.log(DAEMON_HINT);
    process.exit(0);
  }
  gyp(['configure']);
  // Only the targets that are missing: with a usable prebuild, only the daemon.
  const targets = [];
  if (!haveAddon) targets.push('ganomede_events');
  if (daemon) targets.push('ganomede-events-server');
  const r = spawnSync('make', ['-C', 'build', 'BUILDTYPE=' + (process.env.GE_DEBUG_BUILD ? 'Debug' : 'Release'),
    ...targets], { cwd: root, stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    if (!haveAddon) process.exit(r.status || 1);
    // The daemon is optional: a failed daemon build does not fail the install.
    console.log(DAEMON_HINT);
    process.exit(0);
  }
  if (!daemon) console.log(DAEMON_HINT);
  process.exit(0);
}

gyp(['configure', 'build'], process.argv.slice(2));
