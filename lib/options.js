'use strict';
// The one place where the JavaScript API's options are checked (Client and
// IndexerClient): a bad value is a TypeError naming the option, never
// silently replaced by a default. The result goes unchanged to the native
// engine (napi/addon.cc converts, the C engine applies its defaults).

function nonEmptyString(v) { return typeof v === 'string' && v.length > 0; }

const absent = (v) => v === undefined || v === null;

// An integer option: absent gives undefined; otherwise an integer >= min.
function integer(opts, key, min, what) {
  const v = opts[key];
  if (absent(v)) return undefined;
  if (!Number.isSafeInteger(v) || v < min) throw new TypeError('options.' + key + ' must be ' + what);
  return v;
}

function connection(opts, pathKey, defaultPath) {
  if (!opts || typeof opts !== 'object') throw new TypeError('options must be an object');
  if (!nonEmptyString(opts.secret)) throw new TypeError('options.secret must be non-empty string');
  let protocol = absent(opts.protocol) ? 'http' : opts.protocol;
  if (typeof protocol !== 'string') throw new TypeError('options.protocol must be "http" or "https"');
  if (protocol.endsWith(':')) protocol = protocol.slice(0, -1);
  if (protocol !== 'http' && protocol !== 'https') throw new TypeError('options.protocol must be "http" or "https"');
  const hostname = absent(opts.hostname) ? 'localhost' : opts.hostname;
  if (!nonEmptyString(hostname)) throw new TypeError('options.hostname must be non-empty string');
  const port = absent(opts.port) ? 8000 : Number(opts.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError('options.port must be a port number');
  const pathname = absent(opts[pathKey]) ? defaultPath : opts[pathKey];
  if (typeof pathname !== 'string' || (pathname !== '' && !pathname.startsWith('/'))) {
    throw new TypeError('options.' + pathKey + ' must be a path starting with /');
  }
  const out = { secret: opts.secret, protocol, hostname, port, pathname: pathname || '/' };
  // An http(s).Agent: honour what has a meaning for a libcurl connection pool.
  const agent = opts.agent;
  if (!absent(agent)) {
    if (typeof agent !== 'object') throw new TypeError('options.agent must be an http(s).Agent');
    if (agent.keepAlive === false) out.noKeepAlive = true;
    if (Number.isSafeInteger(agent.maxSockets) && agent.maxSockets > 0) out.maxSockets = agent.maxSockets;
    const ao = agent.options || {};
    // ca as https.Agent takes it: PEM text, a Buffer of it, or an array of
    // those; a string that is not PEM is taken as a file path (1.x's use).
    const cas = (Array.isArray(ao.ca) ? ao.ca : [ao.ca]).filter((x) => typeof x === 'string' || Buffer.isBuffer(x));
    const pem = cas.map(String).filter((x) => x.includes('-----BEGIN'));
    if (pem.length) out.caPem = pem.join('\n');
    else if (cas.length === 1 && typeof cas[0] === 'string' && cas[0]) out.caFile = cas[0];
    if (ao.rejectUnauthorized === false) out.insecure = true;
  }
  if (!absent(opts.caFile)) {
    if (!nonEmptyString(opts.caFile)) throw new TypeError('options.caFile must be a path (non-empty string)');
    out.caFile = opts.caFile;
    delete out.caPem;
  }
  if (!absent(opts.rejectUnauthorized)) {
    if (typeof opts.rejectUnauthorized !== 'boolean') throw new TypeError('options.rejectUnauthorized must be a boolean');
    if (!opts.rejectUnauthorized) out.insecure = true;
  }
  if (!absent(opts.pollPerChannel)) {
    if (typeof opts.pollPerChannel !== 'boolean') throw new TypeError('options.pollPerChannel must be a boolean');
    if (opts.pollPerChannel) out.pollPerChannel = true;
  }
  if (!absent(opts.idempotencyKeys)) {
    if (typeof opts.idempotencyKeys !== 'boolean') throw new TypeError('options.idempotencyKeys must be a boolean');
    if (!opts.idempotencyKeys) out.noIdempotencyKeys = true;
  }
  const sendTries = integer(opts, 'sendTries', 1, 'a positive integer');
  if (sendTries !== undefined) {
    if (sendTries > 1000) throw new TypeError('options.sendTries must be a positive integer up to 1000');
    out.sendTries = sendTries;
  }
  for (const k of ['sendBackoff', 'sendMaxBackoff']) {
    const v = integer(opts, k, 1, 'a positive integer of ms');
    if (v > 3600000) throw new TypeError('options.' + k + ' must be a positive integer of ms up to 3600000');
    if (v !== undefined) out[k] = v;
  }
  const limit = integer(opts, 'limit', 1, 'a positive integer');
  if (limit > 0xffffffff) throw new TypeError('options.limit must be a positive integer below 2^32');
  if (limit !== undefined) out.limit = limit;
  // 0 disables the deadline (the engine's -1); absent keeps its 60 s.
  const requestTimeout = integer(opts, 'requestTimeout', 0, 'an integer of ms, 0 for none');
  if (requestTimeout !== undefined) out.requestTimeout = requestTimeout === 0 ? -1 : requestTimeout;
  const connectTimeout = integer(opts, 'connectTimeout', 1, 'a positive integer of ms');
  if (connectTimeout !== undefined) out.connectTimeout = connectTimeout;
  const maxResponseBytes = integer(opts, 'maxResponseBytes', 1, 'a positive integer');
  if (maxResponseBytes !== undefined) out.maxResponseBytes = maxResponseBytes;
  return out;
}

// getLatestEvents' limit: absent gives the server's default of 100.
function latestLimit(limit) {
  if (absent(limit)) return 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 0xffffffff) {
    throw new TypeError('limit must be a positive integer');
  }
  return limit;
}

module.exports = { nonEmptyString, connection, latestLimit };
