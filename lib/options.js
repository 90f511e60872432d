'use strict';
// Option checks shared by Client and IndexerClient.

function nonEmptyString(v) { return typeof v === 'string' && v.length > 0; }

function connection(opts, pathKey, defaultPath) {
  if (!nonEmptyString(opts.secret)) throw new Error('options.secret must be non-empty string');
  let protocol = opts.protocol == null ? 'http' : opts.protocol;
  if (typeof protocol !== 'string') throw new TypeError('options.protocol must be "http" or "https"');
  if (protocol.endsWith(':')) protocol = protocol.slice(0, -1);
  if (protocol !== 'http' && protocol !== 'https') throw new TypeError('options.protocol must be "http" or "https"');
  const hostname = opts.hostname == null ? 'localhost' : opts.hostname;
  if (!nonEmptyString(hostname)) throw new TypeError('options.hostname must be non-empty string');
  const port = opts.port == null ? 8000 : Number(opts.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError('options.port must be a port number');
  const pathname = opts[pathKey] == null ? defaultPath : opts[pathKey];
  if (typeof pathname !== 'string' || (pathname !== '' && !pathname.startsWith('/'))) {
    throw new TypeError('options.' + pathKey + ' must be a path starting with /');
  }
  const out = { secret: opts.secret, protocol, hostname, port, pathname: pathname || '/' };
  // An http(s).Agent: honour what has a meaning for a libcurl connection pool.
  const agent = opts.agent;
  if (agent && typeof agent === 'object') {
    if (agent.keepAlive === false) out.keepAlive = false;
    if (Number.isFinite(agent.maxSockets) && agent.maxSockets > 0) out.maxSockets = agent.maxSockets;
    const ao = agent.options || {};
    if (ao.ca && typeof ao.ca === 'string' && !ao.ca.includes('-----BEGIN')) out.caFile = ao.ca;
    if (ao.rejectUnauthorized === false) out.insecure = true;
  }
  if (nonEmptyString(opts.caFile)) out.caFile = opts.caFile;
  if (opts.rejectUnauthorized === false) out.insecure = true;
  if (Number.isInteger(opts.limit) && opts.limit > 0) out.limit = opts.limit;
  if (Number.isInteger(opts.requestTimeout) && opts.requestTimeout > 0) out.requestTimeout = opts.requestTimeout;
  if (Number.isInteger(opts.connectTimeout) && opts.connectTimeout > 0) out.connectTimeout = opts.connectTimeout;
  return out;
}

module.exports = { nonEmptyString, connection };
