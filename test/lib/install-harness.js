'use strict';
// Installing the packed npm tarball the way users do, in Debian 12 root file
// systems made by scripts/rootfs.sh (cached outside the clone), entered with
// chroot in a private mount namespace (unshare -m) so /proc and /dev are
// bound for the run only. Loopback is shared with the host, so the client
// inside reaches a daemon started here. See README.md, "Installing the npm package".
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { missing } = require('./procs');

const ROOT = path.resolve(__dirname, '..', '..');

// Why these tests cannot run here, or null: they need root (debootstrap, chroot).
function unavailable() {
  if (process.getuid && process.getuid() !== 0) return 'needs root (debootstrap, chroot)';
  const gone = missing('debootstrap', 'unshare', 'chroot');
  if (gone) return gone;
  if (process.env.GE_SKIP_INSTALL_TESTS) return 'GE_SKIP_INSTALL_TESTS is set';
  return null;
}

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, Object.assign({ cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 }, opts));
}

// The tarball users get: prebuilds made (or found up to date) by
// scripts/prebuild.sh, then `npm pack`. Returns its path (in a temp folder).
function packTarball(archs = ['x64', 'arm64']) {
  sh('bash', ['scripts/prebuild.sh', ...archs], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 40 * 60000 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-pack-'));
  const out = JSON.parse(sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir]));
  return { file: path.join(dir, out[0].filename), size: out[0].size, unpackedSize: out[0].unpackedSize, dir };
}

function rootfs(kind, arch) {
  return sh('bash', ['scripts/rootfs.sh', kind, arch], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 40 * 60000 }).trim();
}

// A work folder inside root R (so the chroot sees it): { host, inside, rm() }.
// The machine's own trust for reaching the npm registry (a proxy's CA, say)
// is copied in too, as npm's cafile: what a user's machine would have.
function workDir(R) {
  const host = fs.mkdtempSync(path.join(R, 'tmp', 'ge-install-'));
  const inside = '/tmp/' + path.basename(host);
  const bundle = process.env.NODE_EXTRA_CA_CERTS || '/etc/ssl/certs/ca-certificates.crt';
  if (fs.existsSync(bundle)) {
    fs.copyFileSync(bundle, path.join(host, 'machine-ca.pem'));
    fs.writeFileSync(path.join(host, '.npmrc'), 'cafile=' + inside + '/machine-ca.pem\n');
  }
  return { host, inside, rm: () => fs.rmSync(host, { recursive: true, force: true }) };
}

// Run a shell script inside root R; returns { status, stdout, stderr, ms }.
// opts.env: variables for the script (the rest of the environment is cleared).
function inRoot(R, script, opts = {}) {
  const wrapped = 'R=$0 H=$1 S=$2; shift 2; mount --bind /proc "$R/proc" && mount --bind /dev "$R/dev" && ' +
    'exec chroot "$R" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$H" ' +
    'npm_config_cache="$H/.npm" npm_config_update_notifier=false LANG=C.UTF-8 "$@" ' +
    '/bin/sh -ec \'cd "$HOME" && eval "$1"\' sh "$S"';
  const env = Object.entries(opts.env || {}).map(([k, v]) => k + '=' + v);
  const t0 = Date.now();
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', wrapped, R, opts.home || '/tmp', script, ...env],
    { encoding: 'utf8', timeout: opts.timeout || 10 * 60000, maxBuffer: 64 << 20 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0, error: r.error };
}

module.exports = { ROOT, unavailable, packTarball, rootfs, workDir, inRoot, sh };
