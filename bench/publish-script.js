#!/usr/bin/env node
// Prints the daemon's publish script (GE_LUA_PUBLISH of
// csrc/service/ge_store_scripts.h, with the GE_LUA_COLLISION it opens
// with), exactly as ge_store loads it, so a benchmark can SCRIPT LOAD the
// same text (same SHA) and run it with redis-benchmark. Its arguments, as
// ge_store_publish sends them: 3 KEYS indices:<ch>, <ch>:keys,
// ge:retention; ARGV ch, timestamp, type (JSON), from (JSON), data (JSON
// or ""), max events, max age ms (0: no limit).
'use strict';
const fs = require('fs');
const path = require('path');

const text = fs.readFileSync(path.join(__dirname, '..', 'csrc', 'service', 'ge_store_scripts.h'), 'utf8');
function define(name) {
  const m = new RegExp(`#define ${name}\\b([\\s\\S]*?)\\n\\n`).exec(text);
  if (!m) throw new Error(`no #define ${name} in ge_store_scripts.h`);
  return m[1];
}
// A macro's body: its C string literals (their escapes are JSON's here)
// and the macros it names, in order.
function expand(name) {
  return define(name)
    .match(/"(?:[^"\\]|\\.)*"|\bGE_LUA_[A-Z_]+\b/g)
    .map((t) => (t[0] === '"' ? JSON.parse(t) : expand(t)))
    .join('');
}
process.stdout.write(expand('GE_LUA_PUBLISH'));
