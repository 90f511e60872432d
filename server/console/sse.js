// A text/event-stream reader over fetch(), for streams that need headers
// (EventSource cannot send Authorization). The format is the HTML
// standard's "Server-sent events": lines, "field: value", a blank line
// ends an event; ':' starts a comment.
'use strict';
(function () {
  // Feeds text as it comes; calls onEvent({event, data, id}) per event.
  // A block with an id: line and no data moves lastId and is told as
  // {event: 'id', id} (the stream's starting point).
  class SseParser {
    constructor(onEvent) {
      this.onEvent = onEvent;
      this.buf = '';
      this.lastId = '';
      this.reset();
    }
    reset() { this.data = null; this.event = ''; this.sawId = false; }
    feed(text) {
      this.buf += text;
      let nl;
      while ((nl = this.buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = this.buf.slice(0, nl);
        const skip = this.buf.startsWith('\r\n', nl) ? 2 : 1;
        if (this.buf[nl] === '\r' && nl + 1 === this.buf.length) break; // a CRLF may be split
        this.buf = this.buf.slice(nl + skip);
        this.line(line);
      }
    }
    line(line) {
      if (line === '') {
        if (this.data !== null) this.onEvent({ event: this.event || 'message', data: this.data, id: this.lastId });
        else if (this.sawId) this.onEvent({ event: 'id', id: this.lastId });
        this.reset();
        return;
      }
      if (line[0] === ':') return;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'data') this.data = this.data === null ? value : this.data + '\n' + value;
      else if (field === 'event') this.event = value;
      else if (field === 'id' && !value.includes('\0')) { this.lastId = value; this.sawId = true; }
    }
  }

  // GET url with headers, feeding the body to a parser until it ends, the
  // signal aborts it, or it fails. Resolves with the last id seen;
  // rejects with the error (an answer that is not 200 rejects with
  // {status, body}).
  async function readStream(url, headers, signal, onEvent, onOpen) {
    const res = await fetch(url, { headers, signal, cache: 'no-store' });
    if (res.status !== 200) {
      const body = await res.text().catch(() => '');
      throw Object.assign(new Error('HTTP ' + res.status), { status: res.status, body });
    }
    if (onOpen) onOpen();
    const parser = new SseParser(onEvent);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    return parser.lastId;
  }

  window.geSse = { SseParser, readStream };
})();
