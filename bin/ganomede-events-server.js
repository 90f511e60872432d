#!/usr/bin/env node
'use strict';
// `ganomede-events-server` for npm's bin: runs the C daemon built by
// `npm install` (node-gyp: build/Release/) or by `make` (out/), with the
// same arguments, environment and stdio, and exits with its status.
// The daemon is optional in the npm package (README.md, "Installing the npm package"): without it,
// say how to get it and exit 1.
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
  console.error('ganomede-events-server: the daemon is not part of this install: it is built only when ' +
    'hiredis and libevent (and http-parser) headers are present. Get it from the container image ganomede/events, or ' +
    'install libhiredis-dev, libevent-dev and libhttp-parser-dev and run `npm rebuild ganomede-events`, or build it with ' +
    '`make daemon` from the source (README.md, "Installing the npm package").');
  process.exit(1);
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
