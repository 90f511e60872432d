'use strict';
// `npm install` entry point: builds the addon and the daemon with node-gyp.
//
// `configure` + `build` rather than `rebuild`: rebuild starts by deleting
// build/, which also holds the objects and binaries of `make`.
// Node's headers: when the caller did not choose (--nodedir / npm_config_nodedir)
// and the distribution ships them in /usr/include/node (Debian's nodejs-dev),
// use those instead of downloading a header tarball.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return [process.execPath, fromNpm];
  const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm',
    'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (fs.existsSync(bundled)) return [process.execPath, bundled];
  try { return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js')]; } catch (_) { /* PATH */ }
  return ['node-gyp'];
}

const args = [];
const chosen = process.env.npm_config_nodedir || process.argv.some((a) => a.startsWith('--nodedir'));
const sysHeaders = '/usr/include/node/node_api.h';
if (!chosen && fs.existsSync(sysHeaders) && fs.existsSync('/usr/include/node/common.gypi')) {
  args.push('--nodedir=/usr');
}
if (process.env.GE_DEBUG_BUILD) args.push('--debug');

const [cmd, ...pre] = nodeGyp();
for (const step of ['configure', 'build']) {
  const r = spawnSync(cmd, pre.concat([step], args, process.argv.slice(2)), { cwd: root, stdio: 'inherit' });
  if (r.error) { console.error(r.error.message); process.exit(1); }
  if (r.status !== 0) process.exit(r.status || 1);
}
