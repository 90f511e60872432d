'use strict';
// Run inside a test root file system (test/lib/install-harness.js), from the
// folder where the packed tarball was installed: publish an event and receive
// it with the installed package's Client, once per way of reaching the daemon.
// Environment: GE_PORT (http), GE_TLS_PORT (https, optional), GE_SECRET,
// GE_CA (PEM file of the TLS front's certificate). Prints one JSON line per
// round trip; exits 1 at the first failure, 2 on a 20 s deadline.
const fs = require('node:fs');
const { Client } = require('ganomede-events');

const deadline = setTimeout(() => { console.error('roundtrip: deadline'); process.exit(2); }, 20000);

function roundTrip(name, opts) {
  const channel = 'install/' + name + '/' + process.pid + '/' + Date.now();
  const c = new Client('install-' + name, Object.assign({ secret: process.env.GE_SECRET }, opts));
  return new Promise((resolve, reject) => {
    c.on('error', (err) => { c.close(); reject(err); });
    c.send(channel, { from: 'install', type: 'hello', data: { via: name } }, (err, header) => {
      if (err) { c.close(); return reject(err); }
      c.on(channel, (e) => {
        c.close();
        if (e.id !== header.id || e.data.via !== name) return reject(new Error('unexpected event ' + JSON.stringify(e)));
        resolve({ name, id: e.id, type: e.type });
      });
    });
  });
}

(async () => {
  const port = Number(process.env.GE_PORT);
  const trips = [['http', { protocol: 'http', hostname: '127.0.0.1', port }]];
  if (process.env.GE_TLS_PORT) {
    const tls = { protocol: 'https', hostname: 'localhost', port: Number(process.env.GE_TLS_PORT) };
    trips.push(['https-caFile', Object.assign({ caFile: process.env.GE_CA }, tls)]);
    trips.push(['https-agent-ca-pem', Object.assign({ agent: { options: { ca: fs.readFileSync(process.env.GE_CA, 'utf8') } } }, tls)]);
    trips.push(['https-agent-ca-buffer', Object.assign({ agent: { options: { ca: fs.readFileSync(process.env.GE_CA) } } }, tls)]);
  }
  for (const [name, opts] of trips) console.log(JSON.stringify(await roundTrip(name, opts)));
  clearTimeout(deadline);
})().catch((err) => { console.error('roundtrip: ' + (err.stack || err)); process.exit(1); });
