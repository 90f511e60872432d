'use strict';
// Client: an EventEmitter whose event names are channels (SPEC §5).
// Registering a listener for a channel, by any method, starts polling it
// in the native engine; removing its last listener stops polling.
const { EventEmitter } = require('node:events');
const { Cursor } = require('./cursor');
const { Remote } = require('./remote');
const { requestError, engineError } = require('./errors');
const { nonEmptyString, connection } = require('./options');

// Names that are not channels: never polled, never sendable.
const SPECIAL = ['newListener', 'removeListener', 'error', 'drain', 'cycle'];
const specialSet = new Set(SPECIAL);
const noop = () => undefined;

const base = EventEmitter.prototype;

class Client extends EventEmitter {
  constructor(clientId, options = {}) {
    super();
    if (!nonEmptyString(clientId)) throw new TypeError('clientId must be non-empty string');
    const conn = connection(options || {}, 'pathname', '/events/v1/events');
    this.clientId = clientId;
    this.limit = conn.limit || null;
    Object.defineProperty(this, '_channels', { value: new Set() });
    Object.defineProperty(this, '_closed', { value: false, writable: true });
    const remote = new Remote(Object.assign({ clientId }, conn), {
      batch: (channel, json, finishedAfter, nextAfter) => this._onBatch(channel, json, finishedAfter, nextAfter),
      error: (channel, status, code, message, body, after) => this._onError(channel, status, code, message, body, after),
      drain: () => this.emit('drain'),
    });
    Object.defineProperty(this, '_remote', { value: remote });
  }

  _onBatch(channel, json, finishedAfter, nextAfter) {
    const events = JSON.parse(json);
    for (let i = 0; i < events.length; i++) this.emit(channel, events[i], channel);
    if (this.listenerCount('cycle') > 0) {
      const finished = new Cursor(channel, { after: finishedAfter, limit: this.limit });
      const next = nextAfter === finishedAfter ? finished : new Cursor(channel, { after: nextAfter, limit: this.limit });
      this.emit('cycle', { finished, next }, channel);
    }
  }

  _onError(channel, status, code, message, body, after) {
    this.emit('error', requestError(status, code, message, body), channel);
    if (this.listenerCount('cycle') > 0) {
      const cursor = new Cursor(channel, { after, limit: this.limit });
      this.emit('cycle', { finished: cursor, next: cursor }, channel);
    }
  }

  // Start or stop polling `name` to match its listeners.
  _sync(name) {
    if (typeof name !== 'string' || name.length === 0 || specialSet.has(name) || this._closed) return;
    const want = base.listenerCount.call(this, name) > 0;
    const has = this._channels.has(name);
    if (want && !has) {
      if (this._remote.engine.subscribe(name) === 0) this._channels.add(name);
    } else if (!want && has) {
      this._channels.delete(name);
      this._remote.engine.unsubscribe(name);
    }
  }

  on(name, listener) { base.on.call(this, name, listener); this._sync(name); return this; }
  addListener(name, listener) { return this.on(name, listener); }
  prependListener(name, listener) { base.prependListener.call(this, name, listener); this._sync(name); return this; }
  once(name, listener) { base.once.call(this, name, listener); this._sync(name); return this; }
  prependOnceListener(name, listener) { base.prependOnceListener.call(this, name, listener); this._sync(name); return this; }
  removeListener(name, listener) { base.removeListener.call(this, name, listener); this._sync(name); return this; }
  off(name, listener) { return this.removeListener(name, listener); }
  removeAllListeners(name) {
    if (arguments.length === 0) {
      base.removeAllListeners.call(this);
      for (const ch of Array.from(this._channels)) this._sync(ch);
    } else {
      base.removeAllListeners.call(this, name);
      this._sync(name);
    }
    return this;
  }

  // Publish {from, type[, data]} on channel; callback(err, header).
  send(channel, event, callback = noop) {
    const cb = typeof callback === 'function' ? callback : noop;
    const fail = (msg) => { setImmediate(cb, new TypeError(msg)); };
    if (!nonEmptyString(channel)) return fail('channel must be non-empty string');
    if (specialSet.has(channel)) return fail('channel can not be any of ' + SPECIAL.join(', '));
    if (!event || typeof event !== 'object') return fail('event must be an object');
    const { from, type, data } = event;
    if (!nonEmptyString(from)) return fail('from must be non-empty string');
    if (!nonEmptyString(type)) return fail('type must be non-empty string');
    const hasData = Object.prototype.hasOwnProperty.call(event, 'data');
    let dataJson;
    if (hasData) {
      if (!data || typeof data !== 'object') return fail('data must be non-falsy object');
      try { dataJson = JSON.stringify(data); } catch (err) { return fail('data must be serializable to JSON: ' + err.message); }
    }
    this._remote.call('send', [channel, from, type, dataJson], cb);
  }

  // The last `limit` events of channel, oldest first; callback(err, events).
  getLatestEvents(channel, limit = 100, callback = noop) {
    if (typeof limit === 'function') { callback = limit; limit = 100; }
    const cb = typeof callback === 'function' ? callback : noop;
    if (!nonEmptyString(channel)) return setImmediate(cb, new TypeError('channel must be non-empty string'));
    const n = Number(limit);
    this._remote.call('latest', [channel, Number.isInteger(n) && n > 0 ? n : 100], cb);
  }

  // Stop: every channel stops polling at once (long-polls in flight are
  // aborted, their events dropped); sends in flight still complete.
  // Listeners stay registered but start nothing any more.
  close() {
    if (this._closed) return;
    this._closed = true;
    this._channels.clear();
    this._remote.engine.shutdown();
  }
}

Client.SPECIAL_CHANNELS = SPECIAL;

module.exports = { Client, SPECIAL, engineError };
