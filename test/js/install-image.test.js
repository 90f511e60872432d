'use strict';
// The container image, built from the Dockerfile and proven by
// docker/test-image.sh (docs/operations.md): size, no compiler, uid 10001,
// the entrypoint against a Redis on loopback (/health, publish, long-poll,
// /metrics, SIGTERM exits 0), the healthcheck before and after Redis stops.
// Each of the script's TAP lines becomes an assertion here.
const t = require('tap');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const h = require('../lib/install-harness');
const { missing } = require('../lib/procs');
const { limit } = require('../lib/harness');

// docker/test-image.sh uses docker when its daemon answers, else podman.
const dockerAnswers = spawnSync('sh', ['-c', 'timeout 10 docker info'], { stdio: 'ignore' }).status === 0;
const why = h.unavailable() || (!dockerAnswers && missing('podman'));
t.setTimeout(limit(40 * 60000));

t.test('the image builds and behaves', { timeout: limit(35 * 60000), skip: why }, async (t) => {
  const r = spawnSync('bash', [path.join(h.ROOT, 'docker', 'test-image.sh')], { encoding: 'utf8', timeout: 30 * 60000, maxBuffer: 64 << 20 });
  t.equal(r.error, undefined, 'the script ran to its end');
  const lines = (r.stdout || '').split('\n');
  for (const l of lines) {
    let m;
    if ((m = /^ok \d+ - (.*)$/.exec(l))) t.pass(m[1]);
    else if ((m = /^not ok \d+ - (.*)$/.exec(l))) t.fail(m[1], { output: r.stdout.slice(-4000), stderr: (r.stderr || '').slice(-2000) });
    else if (l.startsWith('# ')) t.comment(l.slice(2));
  }
  const tally = /^(\d+) passed, (\d+) failed$/m.exec(r.stdout || '');
  t.ok(tally, 'docker/test-image.sh printed its tally');
  t.ok(tally && Number(tally[1]) > 0, 'docker/test-image.sh ran image checks (' + (tally ? tally[0] : 'none') + ')');
  t.equal(tally && Number(tally[2]), 0, 'every image check passed');
  t.equal(r.status, 0, 'docker/test-image.sh exits 0');
});
