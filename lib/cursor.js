'use strict';
// A poll position: the query of one GET /events request (docs/protocol.md,
// "Cursor and acknowledgement").
const util = require('node:util');

class Cursor {
  constructor(channel, { after = null, limit = null } = {}) {
    if (typeof channel !== 'string' || channel.length === 0) {
      throw new Error(util.format(
        'new Cursor() requires channel to be non-empty string, got %j (%s)', channel, typeof channel));
    }
    this.channel = channel;
    this.after = after;
    this.limit = limit;
  }

  // The cursor after these events: `after` = the highest id among them.
  advance(events) {
    if (!Array.isArray(events) || events.length === 0) return this;
    let max = -Infinity;
    for (const e of events) if (e && typeof e.id === 'number' && e.id > max) max = e.id;
    return max === -Infinity ? this : new Cursor(this.channel, { limit: this.limit, after: max });
  }

  toQuery() {
    const qs = { channel: this.channel };
    if (this.after !== null) qs.after = this.after;
    if (this.limit !== null) qs.limit = this.limit;
    return qs;
  }
}

module.exports = { Cursor };
