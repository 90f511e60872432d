#!/usr/bin/env node
// The daemon's instructions per request from callgrind, grouped by where
// they are spent (bench/profile.sh).
//
//   node bench/callgrind-groups.js --label L --requests N SELF.txt INCL.txt [CALLERS.txt]
//   node bench/callgrind-groups.js --total SELF.txt
//
// SELF.txt / INCL.txt: `callgrind_annotate --inclusive=no|yes
// --threshold=100 --auto=no` of one dump; CALLERS.txt the same with
// --inclusive=yes --tree=caller. Prints (markdown) the total instructions
// per request, the self cost of each group with its share, the top
// functions by self cost and by inclusive cost, and for the allocator and
// the printf family: calls per request and who makes them. --total prints
// the dump's total instructions only.
'use strict';
const fs = require('fs');

const argv = process.argv.slice(2);
const opt = { label: 'requests', requests: 1, total: false, files: [] };
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--label') opt.label = argv[++i];
  else if (argv[i] === '--requests') opt.requests = Number(argv[++i]);
  else if (argv[i] === '--total') opt.total = true;
  else opt.files.push(argv[i]);
}
if (!opt.files.length || !(opt.requests > 0)) {
  console.error('usage: callgrind-groups.js --label L --requests N SELF.txt INCL.txt [CALLERS.txt] | --total SELF.txt');
  process.exit(2);
}

// "  1,234 ( 5.6%)  file:function [object]" (no object for code of a
// header inlined elsewhere: those go by their file).
function parse(path) {
  const text = fs.readFileSync(path, 'utf8');
  let total = 0;
  const rows = [];
  for (const line of text.split('\n')) {
    const t = /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+PROGRAM TOTALS/.exec(line);
    if (t) {
      total = Number(t[1].replace(/,/g, ''));
      continue;
    }
    const m = /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.+?)(?:\s+\[(.+)\])?\s*$/.exec(line);
    if (!m) continue;
    const ir = Number(m[1].replace(/,/g, ''));
    const name = m[2];
    const obj = m[3] || '';
    const colon = name.lastIndexOf(':');
    rows.push({ ir, file: colon > 0 ? name.slice(0, colon) : '???', fn: colon > 0 ? name.slice(colon + 1) : name, obj });
  }
  return { total, rows };
}

// The groups, first match wins. `file` is the source file (??? when the
// library has no debug information), `obj` the shared object.
const GROUPS = [
  ['libevent evhttp: request/URI parsing, header lists', (r) => /libevent/.test(r.obj) &&
    /^(evhttp_|evutil_ascii_strcasecmp|EVUTIL_TOLOWER_|evutil_vsnprintf|evutil_snprintf|evkeyval|evhttp)/.test(r.fn)],
  ['libevent buffers (evbuffer)', (r) => /libevent/.test(r.obj) && /^evbuffer_/.test(r.fn)],
  ['libevent loop, bufferevents, timers, event_mm', (r) => /libevent/.test(r.obj) &&
    /^(event_|evmap_|bufferevent_|evutil_|min_heap|epoll|evsig|be_socket)/.test(r.fn)],
  ['libevent, static functions (no symbols)', (r) => /libevent/.test(r.obj)],
  ['http-parser (libhttp_parser)', (r) => /libhttp_parser/.test(r.obj) || /http_parser\.c/.test(r.file)],
  ['hiredis (command formatting, reply parsing, sds)', (r) => /libhiredis/.test(r.obj) || /hiredis/.test(r.file)],
  ['ours: JSON and validation (csrc/common/ge_json*, ge_params)', (r) => /csrc\/common\/(ge_json|ge_params)/.test(r.file)],
  ['ours: api, calls, store (csrc/service)', (r) => /csrc\/service\//.test(r.file)],
  ['ours: HTTP shell (server/)', (r) => /(^|\/)server\/[^/]+\.[ch]$/.test(r.file)],
  ['ours: buffers, strings, log, time (csrc/common)', (r) => /csrc\/common\//.test(r.file)],
  ['malloc/free (glibc)', (r) => /\/malloc\/|\bmalloc\.c|arena\.c/.test(r.file) || /^(malloc|free|calloc|realloc|cfree)$/.test(r.fn)],
  ['libc printf/scanf family', (r) => /stdio-common|libio\/|printf|vfscanf|_itoa/.test(r.file + ' ' + r.fn)],
  ['libc strings, numbers, time (mem*, str*, strto*, strftime)', (r) => /libc\.so/.test(r.obj) &&
    /(string\/|stdlib\/|time\/|multiarch)/.test(r.file)],
  ['libc system call wrappers', (r) => /libc\.so/.test(r.obj) && /sysdeps\/unix|syscall/.test(r.file)],
  ['other libc', (r) => /libc\.so/.test(r.obj)],
  ['other (ld.so, our binary without source, …)', () => true],
];

function fmt(n) {
  return Math.round(n).toLocaleString('en-US');
}
function pct(n, d) {
  return d ? ((100 * n) / d).toFixed(1) + ' %' : 'n/a';
}

const self = parse(opt.files[0]);
if (opt.total) {
  console.log(self.total);
  process.exit(0);
}
const incl = opt.files[1] ? parse(opt.files[1]) : null;
const N = opt.requests;
const T = self.total;

// The frames on the stack when the counters were zeroed (main, the event
// loop) show the whole cost as their own in a dump taken mid-run: left out.
self.rows = self.rows.filter((r) => r.ir < 0.97 * T);
const sums = GROUPS.map(([name]) => ({ name, ir: 0, top: [] }));
for (const r of self.rows) {
  const i = GROUPS.findIndex(([, test]) => test(r));
  sums[i].ir += r.ir;
  sums[i].top.push(r);
}
const listed = sums.reduce((a, g) => a + g.ir, 0);
console.log(`\n### ${opt.label}: ${fmt(T / N)} instructions per request (${fmt(T)} over ${fmt(N)} requests; ` +
  `the functions listed hold ${pct(listed, T)})\n`);
console.log('| self cost, grouped | instructions / request | share | largest functions in it |');
console.log('|---|---:|---:|---|');
for (const g of sums.filter((s) => s.ir > 0).sort((a, b) => b.ir - a.ir)) {
  const top = g.top.sort((a, b) => b.ir - a.ir).slice(0, 4).map((r) => `${r.fn} ${pct(r.ir, T)}`).join(', ');
  console.log(`| ${g.name} | ${fmt(g.ir / N)} | ${pct(g.ir, T)} | ${top} |`);
}

const short = (r) => `${r.fn} (${r.file.replace(/^.*\/(csrc|server)\//, '$1/').replace(/^\.\/.*\//, '')}${
  /\.so/.test(r.obj) ? ', ' + r.obj.replace(/^.*\//, '') : ''})`;
console.log(`\n| top self | instructions / request | share |`);
console.log('|---|---:|---:|');
for (const r of self.rows.slice().sort((a, b) => b.ir - a.ir).slice(0, 25))
  console.log(`| ${short(r)} | ${fmt(r.ir / N)} | ${pct(r.ir, T)} |`);
if (incl) {
  // The loop's own frames (main, event_base_loop, …) hold everything: left out.
  console.log(`\n| top inclusive (below the event loop) | instructions / request | share |`);
  console.log('|---|---:|---:|');
  // A function can be listed twice, under its relative and its absolute
  // source path: shown once.
  const seen = new Set();
  const rows = incl.rows.filter((r) => r.ir < 0.97 * T && !/^0x[0-9a-f]+$/.test(r.fn))
    .sort((a, b) => b.ir - a.ir)
    .filter((r) => {
      const k = r.fn + ' ' + r.file.replace(/^.*\//, '');
      return !seen.has(k) && seen.add(k);
    });
  for (const r of rows.slice(0, 30))
    console.log(`| ${short(r)} | ${fmt(r.ir / N)} | ${pct(r.ir, T)} |`);
}

// The callers of a few shared functions: "  1,234 ( 0.3%)  < file:fn (N x) [obj]"
// lines, then the function's own "  5,678 ( 1.5%)  *  file:fn [obj]".
const CALLEES = [
  [['malloc'], 'malloc'], [['calloc'], 'calloc'], [['realloc'], 'realloc'], [['free'], 'free'], [['strdup'], 'strdup'],
  [['snprintf', '__snprintf_chk', 'vsnprintf', '__vsnprintf_chk', 'sprintf', '__sprintf_chk'],
    'printf formatting (snprintf, vsnprintf)'],
  [['__isoc99_sscanf'], 'sscanf'], [['evutil_date_rfc1123'], 'Date header (evutil_date_rfc1123)'],
];
if (opt.files[2]) {
  const blocks = fs.readFileSync(opt.files[2], 'utf8').split(/\n\s*\n/);
  console.log(`\n| shared function | calls / request | instructions / request (inclusive) | callers outside libc (calls / request, instructions / request) |`);
  console.log('|---|---:|---:|---|');
  for (const [fns, label] of CALLEES) {
    const callers = new Map();
    let own = 0;
    for (const fn of fns) {
      const b = blocks.find((t) => new RegExp(`\\*\\s+\\S*:${fn} \\[`).test(t));
      if (!b) continue;
      for (const line of b.split('\n')) {
        const c = /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+<\s+(\S+?):(\S+) \(([\d,]+)x\)(?: \[(.+)\])?/.exec(line);
        // Callers inside libc (realloc → malloc, strdup → malloc through
        // its PLT, snprintf → vsnprintf) are not the ones asking.
        if (c && !/libc\.so|^\?\?\?$/.test(c[5] || '???')) {
          const k = c[3].replace(/'\d+$/, '');
          const e = callers.get(k) || { fn: k, obj: c[5], ir: 0, calls: 0 };
          e.ir += Number(c[1].replace(/,/g, ''));
          e.calls += Number(c[4].replace(/,/g, ''));
          callers.set(k, e);
        }
      }
    }
    const list = [...callers.values()];
    if (!list.length) continue;
    own = list.reduce((a, c) => a + c.ir, 0);
    const calls = list.reduce((a, c) => a + c.calls, 0);
    const top = list.sort((a, b) => b.ir - a.ir).slice(0, 6).map((c) =>
      `${c.fn}${/\.so/.test(c.obj) ? ' (' + c.obj.replace(/^.*\/lib/, 'lib').replace(/\.so.*/, '') + ')' : ''} ${(c.calls / N).toFixed(1)} / ${fmt(c.ir / N)}`).join('; ');
    console.log(`| ${label} | ${(calls / N).toFixed(1)} | ${fmt(own / N)} | ${top} |`);
  }
}
