'use strict';
// A Redis connection subscribed to channels (plain SUBSCRIBE, read as raw
// RESP): what Redis announced, by channel.
//   const seen = await subscriber(t, port, ['a', 'b']);  // seen.a: the ids published on a, in order
// The connection is closed at the end of test t.
const net = require('net');

async function subscriber(t, port, channels) {
  const seen = {};
  for (const c of channels) seen[c] = [];
  const sock = net.connect(port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  let buf = '', subscribed = 0, ready;
  const isReady = new Promise((r) => { ready = r; });
  sock.setEncoding('binary');
  sock.on('data', (d) => {
    buf += d;
    const re = /^\*3\r\n\$\d+\r\n(message|subscribe)\r\n\$\d+\r\n([^\r]*)\r\n(?:\$\d+\r\n([^\r]*)|:(\d+))\r\n/;
    for (let m; (m = re.exec(buf));) {
      buf = buf.slice(m[0].length);
      if (m[1] === 'message') seen[m[2]].push(Number(m[3]));
      else if (++subscribed === channels.length) ready();
    }
  });
  sock.write('SUBSCRIBE ' + channels.join(' ') + '\r\n');
  await isReady;
  return seen;
}

module.exports = { subscriber };
