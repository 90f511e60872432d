'use strict';
// Client: an EventEmitter whose event names are channels (docs/client.md;
// the cursor rules: docs/protocol.md, "Cursor and acknowledgement").
// Registering a listener for a channel, by any method, starts polling it
// in the native engine; removing its last listener stops polling. The
// emitter's own 'newListener' / 'removeListener' events tell us both.
const { EventEmitter } = require('node:events');
const { Cursor } = require('./cursor');
const { Remote } = require('./remote');
const { requestError, signalError, engineError } = require('./errors');
const { nonEmptyString, connection, latestLimit } = require('./options');

// Names that are not channels: never polled, never sendable.
const SPECIAL = ['newListener', 'removeListener', 'error', 'drain', 'cycle'];
const specialSet = new Set(SPECIAL);
const noop = () => undefined;
const isChannel = (name) => typeof name === 'string' && name.length > 0 && !specialSet.has(name);

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
      signal: (channel, code, message, fields) => this.emit('error', signalError(code, message, fields), channel),
      batch: (channel, json) => this._onBatch(channel, json),
      error: (channel, status, code, message, body) => this.emit('error', requestError(status, code, message, body), channel),
      cycle: (channel, finishedAfter, nextAfter) => this._onCycle(channel, finishedAfter, nextAfter),
      drain: () => this.emit('drain'),
    });
    Object.defineProperty(this, '_remote', { value: remote });
    // 'newListener' comes before the listener is added, 'removeListener'
    // after it is gone.
    Object.defineProperty(this, '_hooks', {
      value: {
        newListener: (name) => { if (isChannel(name)) this._poll(name, true); },
        removeListener: (name) => { if (isChannel(name) && this.listenerCount(name) === 0) this._poll(name, false); },
      },
    });
    this._installHooks();
  }

  _installHooks() {
    for (const name of ['newListener', 'removeListener']) {
      if (!this.listeners(name).includes(this._hooks[name])) super.on(name, this._hooks[name]);
    }
  }

  // removeAllListeners() with no name (or for the two hook names) also
  // drops our hooks: channels stop through 'removeListener' as usual, then
  // the hooks come back for the listeners registered later.
  removeAllListeners(name) {
    if (arguments.length === 0) super.removeAllListeners();
    else super.removeAllListeners(name);
    if (arguments.length === 0 || name === 'newListener' || name === 'removeListener') this._installHooks();
    return this;
  }

  _poll(channel, want) {
    if (this._closed) return;
    const has = this._channels.has(channel);
    if (want && !has) {
      if (this._remote.engine.subscribe(channel) === 0) this._channels.add(channel);
    } else if (!want && has) {
      this._channels.delete(channel);
      this._remote.engine.unsubscribe(channel);
    }
  }

  // Hand the batch to the listeners one event at a time. The cursor moves
  // only past events handed over: if a listener throws (the exception goes
  // on, to 'uncaughtException'), or the last listener left, or close() was
  // called, the engine is told how many were, and the rest come again
  // with the next request instead of being acknowledged unseen.
  _onBatch(channel, json) {
    const events = JSON.parse(json);
    let handed = 0;
    try {
      while (handed < events.length && this._channels.has(channel)) {
        const event = events[handed++];
        this.emit(channel, event, channel);
      }
    } finally {
      if (handed < events.length) this._remote.engine.consumed(channel, handed);
    }
  }

  // After the batch or the error of every request: the engine's cursors,
  // of the request that completed and of the next one (docs/client.md).
  _onCycle(channel, finishedAfter, nextAfter) {
    if (this.listenerCount('cycle') === 0) return;
    const finished = new Cursor(channel, { after: finishedAfter, limit: this.limit });
    const next = nextAfter === finishedAfter ? finished : new Cursor(channel, { after: nextAfter, limit: this.limit });
    this.emit('cycle', { finished, next }, channel);
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
  // A bad channel or limit calls back (asynchronously) with a TypeError.
  getLatestEvents(channel, limit = 100, callback = noop) {
    if (typeof limit === 'function') { callback = limit; limit = 100; }
    const cb = typeof callback === 'function' ? callback : noop;
    if (!nonEmptyString(channel)) return setImmediate(cb, new TypeError('channel must be non-empty string'));
    let n;
    try { n = latestLimit(limit); } catch (err) { return setImmediate(cb, err); }
    this._remote.call('latest', [channel, n], cb);
  }

  // Stop: every channel stops polling at once (long-polls in flight are
  // aborted, their events dropped); sends in flight still complete. The
  // engine closes every connection once no send is in flight (its
  // shutdown does), without waiting for a collection of this object.
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
