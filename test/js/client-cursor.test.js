'use strict';
// Cursor, public in index.d.ts: a poll position (channel, after, limit),
// what `cycle` hands out, and how it moves past events.
const t = require('tap');
const { Cursor } = require('../..');
const { limit } = require('../lib/harness');

t.test('constructor: channel required, after and limit default to null', { timeout: limit(5000) }, async (t) => {
  const c = new Cursor('users/v1');
  t.equal(c.channel, 'users/v1');
  t.equal(c.after, null);
  t.equal(c.limit, null);
  const d = new Cursor('ch', { after: 7, limit: 50 });
  t.equal(d.after, 7);
  t.equal(d.limit, 50);
  for (const bad of [undefined, null, '', 42, {}]) {
    t.throws(() => new Cursor(bad), /requires channel to be non-empty string/, 'channel ' + JSON.stringify(bad));
  }
});

t.test('toQuery: the GET /events query, without what is null', { timeout: limit(5000) }, async (t) => {
  t.same(new Cursor('ch').toQuery(), { channel: 'ch' });
  t.same(new Cursor('ch', { after: 0 }).toQuery(), { channel: 'ch', after: 0 }, 'after 0 is kept');
  t.same(new Cursor('ch', { after: 3, limit: 10 }).toQuery(), { channel: 'ch', after: 3, limit: 10 });
});

t.test('advance: after = the highest id of the events, a new Cursor', { timeout: limit(5000) }, async (t) => {
  const c = new Cursor('ch', { after: 2, limit: 5 });
  const n = c.advance([{ id: 3 }, { id: 5 }, { id: 4 }]);
  t.not(n, c, 'a new object');
  t.equal(n.after, 5);
  t.equal(n.limit, 5, 'keeps the limit');
  t.equal(n.channel, 'ch');
  t.equal(c.after, 2, 'the original is unchanged');
  t.equal(c.advance([]), c, 'no events: the same cursor');
  t.equal(c.advance(null), c, 'not an array: the same cursor');
  t.equal(c.advance([{}, { id: 'x' }, null]), c, 'no numeric id: the same cursor');
});
