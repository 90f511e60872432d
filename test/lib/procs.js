'use strict';
// The programs the tests start. need() fails at once, naming the program
// and the Debian package that provides it (from scripts/deps.sh), when a
// program is not installed, instead of a spawn error or a hang later.
// spawnOwned() starts a program that dies with the test process, whatever
// ends it (a failure, tap's time limit, SIGKILL): util-linux's setpriv sets
// the parent-death signal, then executes the program (same pid).
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

// The absolute path of `program` on PATH, or null.
function which(program) {
  if (program.includes('/')) return fs.existsSync(program) ? program : null;
  for (const dir of (process.env.PATH || '').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, program);
    try { fs.accessSync(p, fs.constants.X_OK); if (fs.statSync(p).isFile()) return p; } catch (_) { /* next */ }
  }
  return null;
}

// The Debian package scripts/deps.sh installs `program` from, or null.
function packageOf(program) {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'deps.sh'), '--package', program], { encoding: 'utf8' });
  return (r.stdout || '').trim() || null;
}

// Why `programs` cannot run here (a sentence naming each missing program
// and its package), or null when all are installed.
function missing(...programs) {
  const gone = programs.filter((p) => !which(p));
  if (!gone.length) return null;
  return gone.map((p) => {
    const pkg = packageOf(p);
    return 'program ' + p + ' is not installed' +
      (pkg ? ' (Debian package ' + pkg + ', installed by scripts/deps.sh)' : ' (no package of scripts/deps.sh provides it)');
  }).join('; ');
}

// Throw at once when a program is missing.
function need(...programs) {
  const why = missing(...programs);
  if (why) throw new Error(why);
}

// child_process.spawn(cmd, args, opts) for a program that must not outlive
// this process.
function spawnOwned(cmd, args = [], opts = {}) {
  need('setpriv', cmd);
  return spawn(which('setpriv'), ['--pdeathsig', 'KILL', '--', which(cmd), ...args], opts);
}

module.exports = { which, missing, need, spawnOwned };
