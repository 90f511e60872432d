'use strict';
// One native engine plus the bookkeeping of one-shot requests: a request
// gets a number, the engine answers through handlers.reply(id, ...).
const binding = require('./binding');
const { requestError, engineError } = require('./errors');

class Remote {
  constructor(engineOptions, handlers = {}) {
    this.callbacks = new Map();
    this.nextId = 1;
    this.handlers = Object.assign({}, handlers, {
      reply: (id, json, status, code, message, body) => this.reply(id, json, status, code, message, body),
    });
    this.engine = new binding.Engine(engineOptions, this.handlers);
  }

  reply(id, json, status, code, message, body) {
    const cb = this.callbacks.get(id);
    if (!cb) return;
    this.callbacks.delete(id);
    if (json === undefined) return cb(requestError(status, code, message, body));
    let value;
    try { value = JSON.parse(json); } catch (err) { return cb(err); }
    cb(null, value);
  }

  // call(method, args..., callback): starts engine.method(id, args...).
  call(method, args, callback) {
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    const cb = typeof callback === 'function' ? callback : () => {};
    this.callbacks.set(id, cb);
    const rc = this.engine[method](id, ...args);
    if (rc !== 0) {
      this.callbacks.delete(id);
      setImmediate(cb, engineError(rc));
    }
  }
}

module.exports = { Remote };
