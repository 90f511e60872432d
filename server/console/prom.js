// The Prometheus text format (version 0.0.4) of /metrics, parsed: samples
// [{name, labels, value}], comments and blank lines skipped.
'use strict';
(function () {
  const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/;
  const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

  function unescape(v) {
    return v.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  }

  function parse(text) {
    const out = [];
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = SAMPLE.exec(line);
      if (!m) continue;
      const labels = {};
      if (m[3]) for (const l of m[3].matchAll(LABEL)) labels[l[1]] = unescape(l[2]);
      const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
      out.push({ name: m[1], labels, value });
    }
    return out;
  }

  // The value of the first sample named name whose labels include want.
  function value(samples, name, want = {}) {
    const s = samples.find((x) => x.name === name && Object.keys(want).every((k) => x.labels[k] === want[k]));
    return s ? s.value : undefined;
  }

  window.geProm = { parse, value };
})();
