'use strict';
// The kernel's view of a listener's TCP connections, for tests and benches
// that count what a client holds open.
const fs = require('node:fs');

// ESTABLISHED connections whose local port is `port` (a server's ends),
// read from /proc/net/tcp and tcp6.
function establishedAt(port) {
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = fs.readFileSync(file, 'utf8'); } catch (_) { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length >= 4 && parseInt(cols[1].split(':').pop(), 16) === port && cols[3] === '01') n++;
    }
  }
  return n;
}

module.exports = { establishedAt };
