#!/usr/bin/env node
'use strict';
// `ganomede-events-server` for npm's bin: runs the C daemon built by
// `npm install` (node-gyp: build/Release/) or by `make` (out/), with the
// same arguments, environment and stdio, and exits with its status.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const candidates = [
  path.join(root, 'build', 'Release', 'ganomede-events-server'),
  path.join(root, 'out', 'ganomede-events-server'),
];
const exe = candidates.find((f) => fs.existsSync(f));
if (!exe) {
  console.error('ganomede-events-server: the daemon is not built; run `npm install` (node-gyp) or `make daemon` in ' + root);
  process.exit(127);
}
const child = spawn(exe, process.argv.slice(2), { stdio: 'inherit' });
// Forward the signals the daemon handles (graceful stop).
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => { if (child.exitCode === null) child.kill(sig); });
}
child.on('error', (err) => { console.error('ganomede-events-server: ' + err.message); process.exit(127); });
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code);
});
