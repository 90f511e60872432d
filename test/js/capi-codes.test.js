'use strict';
// The return codes of the C API: every GE_OK / GE_E* code the public
// headers (include/*.h) define has its own name, ge_err_name(code) being
// the identifier itself, and its own text from ge_strerror (not the
// "unknown error" of an unknown code). The codes are read from the headers
// when the test runs and a program that includes them is compiled against
// the library of this build, so a code added without a name and a text
// fails here.
const t = require('tap');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('../lib/harness');

const INCLUDE = path.join(h.ROOT, 'include');
const headers = fs.readdirSync(INCLUDE).filter((f) => f.endsWith('.h')).sort();

// Every `#define GE_OK` / `#define GE_E<NAME>` of the public headers.
function returnCodes() {
  const found = [];
  for (const file of headers) {
    const text = fs.readFileSync(path.join(INCLUDE, file), 'utf8');
    for (const m of text.matchAll(/^\s*#\s*define\s+(GE_OK|GE_E[A-Z0-9_]*)\b/gm)) found.push({ name: m[1], file });
  }
  return found;
}

const C_STRING = (s) => JSON.stringify(s); // identifiers only: valid C too

// Compile and run a program that prints, for each code, its value, its
// name and its text (one tab-separated line each; the unknown code last).
function describe(codes, unknown) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ge-codes-'));
  try {
    const src = path.join(dir, 'codes.c');
    const exe = path.join(dir, 'codes');
    const lines = headers.map((f) => `#include "${f}"`).concat([
      '#include <stdio.h>',
      'static void show(const char *id, int rc) {',
      '    printf("%s\\t%d\\t%s\\t%s\\n", id, rc, ge_err_name(rc), ge_strerror(rc));',
      '}',
      'int main(void) {',
      ...codes.map((c) => `    show(${C_STRING(c.name)}, ${c.name});`),
      `    show("unknown", ${unknown});`,
      '    return 0;',
      '}',
    ]);
    fs.writeFileSync(src, lines.join('\n') + '\n');
    const flags = (v) => (process.env[v] || '').split(/\s+/).filter(Boolean);
    const cc = spawnSync(process.env.CC || 'cc', [
      '-std=c11', '-Wall', '-Wextra', '-Werror', '-I' + INCLUDE, ...flags('GE_CFLAGS'), '-o', exe, src,
      path.join(h.ROOT, h.BUILD, 'libganomede-events.a'), '-lcurl', '-lpthread', '-lm', ...flags('GE_LDFLAGS'),
    ], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error('the program including ' + headers.join(', ') + ' did not build:\n' + cc.stderr);
    const wrap = flags('GE_WRAP');
    const run = spawnSync(wrap.length ? wrap[0] : exe, wrap.length ? wrap.slice(1).concat([exe]) : [],
      { encoding: 'utf8', timeout: h.limit(30000) });
    if (run.status !== 0) throw new Error('the program failed: ' + run.status + ' ' + run.signal + '\n' + run.stdout + run.stderr);
    return run.stdout.trim().split('\n').map((l) => {
      const [id, rc, name, text] = l.split('\t');
      return { id, rc: Number(rc), name, text };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

t.test('every return code of the public headers has its own name and text', { timeout: h.limit(60000) }, async (t) => {
  const codes = returnCodes();
  t.comment('codes: ' + codes.map((c) => c.name + ' (' + c.file + ')').join(', '));
  // The codes the API documents today are among them (the search works).
  for (const known of ['GE_OK', 'GE_EINVAL', 'GE_ECLOSED', 'GE_EFAILED', 'GE_ERANGE']) {
    t.ok(codes.some((c) => c.name === known), known + ' is found in the headers');
  }
  t.equal(new Set(codes.map((c) => c.name)).size, codes.length, 'each code is defined once');
  const UNKNOWN = 12345;
  const rows = describe(codes, UNKNOWN);
  const unknown = rows.pop();
  t.same([unknown.name, unknown.text], ['GE_EUNKNOWN', 'unknown error'], 'an unknown code: GE_EUNKNOWN, "unknown error"');
  t.equal(rows.length, codes.length, 'one line per code');
  const texts = new Map();
  for (const r of rows) {
    t.equal(r.name, r.id, `ge_err_name(${r.id}) is "${r.id}"`);
    t.ok(r.text && r.text !== unknown.text, `ge_strerror(${r.id}) has a text of its own: "${r.text}"`);
    t.notOk(texts.has(r.text), `ge_strerror(${r.id}) differs from every other code's`);
    texts.set(r.text, r.id);
  }
  t.equal(new Set(rows.map((r) => r.rc)).size, rows.length, 'the values are distinct');
  t.ok(rows.every((r) => r.rc !== UNKNOWN), 'no code is the value used as unknown');
});
