'use strict';
// IndexerClient: define indices and read them (docs/protocol.md, "Routes":
// /indices).
const { Remote } = require('./remote');
const { nonEmptyString, connection } = require('./options');

const noop = () => undefined;

class IndexerClient {
  constructor(options = {}) {
    const conn = connection(options || {}, 'pathnamePrefix', '/events/v1');
    this.pathPrefix = conn.pathname;
    Object.defineProperty(this, '_remote', { value: new Remote(conn) });
  }

  // callback(err, "OK") when created, (err, null) when it existed.
  createIndex(id, channel, field, callback = noop) {
    for (const [k, v] of [['id', id], ['channel', channel], ['field', field]]) {
      if (!nonEmptyString(v)) return setImmediate(callback, new TypeError(k + ' must be non-empty string'));
    }
    this._remote.call('indexCreate', [id, channel, field], callback);
  }

  // callback(err, {id, field, value, rows}) with rows newest first.
  getIndexEvents(indexId, value, callback = noop) {
    if (!nonEmptyString(indexId)) return setImmediate(callback, new TypeError('indexId must be non-empty string'));
    if (typeof value !== 'string') value = String(value);
    this._remote.call('indexGet', [indexId, value], callback);
  }

  // The 1.5 client's spelling.
  getIndiceEvents(indexId, value, callback) { return this.getIndexEvents(indexId, value, callback); }
}

module.exports = { IndexerClient };
