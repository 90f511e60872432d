#!/usr/bin/env node
// Prints the daemon's publish script (GE_LUA_PUBLISH of
// csrc/service/ge_store_scripts.h, keys spelled by ge_store_layout.h),
// exactly as ge_store loads it: the C preprocessor and compiler expand it,
// so a benchmark can SCRIPT LOAD the same text (same SHA) and run it with
// redis-benchmark. Its arguments, as ge_store_publish sends them: 3 KEYS
// indices:<ch>, <ch>:keys, ge:retention; ARGV ch, timestamp, type (JSON),
// from (JSON), data (JSON or ""), max events, max age ms (0: no limit).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-script-'));
try {
  const exe = path.join(dir, 'print');
  const src = '#include <stdio.h>\n#include "ge_store_scripts.h"\nint main(void) { fputs(GE_LUA_PUBLISH, stdout); return 0; }\n';
  const cc = spawnSync(process.env.CC || 'cc', ['-std=c11', '-I' + path.join(root, 'csrc', 'service'),
    '-I' + path.join(root, 'csrc', 'common'), '-I' + path.join(root, 'include'), '-x', 'c', '-', '-o', exe],
  { input: src, encoding: 'utf8' });
  if (cc.status !== 0) throw new Error('cannot compile the publish script printer: ' + cc.stderr);
  const run = spawnSync(exe, [], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error('the publish script printer failed');
  process.stdout.write(run.stdout);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
