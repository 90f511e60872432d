// The daemon's API as the console uses it: every request carries the
// secret in an Authorization: Bearer header (never in a URL), has a
// deadline, and fails with an ApiError whose kind says what went wrong:
// 'auth' (401: a wrong secret), 'down' (no answer), 'http' (another
// error answer, its JSON message kept).
'use strict';
(function () {
  const TIMEOUT_MS = 5000;

  class ApiError extends Error {
    constructor(kind, message, status) {
      super(message);
      this.kind = kind;
      this.status = status;
    }
  }

  class Api {
    // base: the API's prefix, e.g. "/events/v1" (the page is base + "/console").
    constructor(base, secret) {
      this.base = base;
      this.secret = secret;
    }
    headers(more = {}) {
      return Object.assign({ Authorization: 'Bearer ' + this.secret }, more);
    }
    url(path, query) {
      const q = query ? new URLSearchParams(query).toString() : '';
      return this.base + path + (q ? '?' + q : '');
    }
    async request(method, path, query, body, { text = false } = {}) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
      let res;
      try {
        res = await fetch(this.url(path, query), {
          method,
          headers: this.headers(body ? { 'Content-Type': 'application/json' } : {}),
          body: body ? JSON.stringify(body) : undefined,
          signal: ctl.signal,
          cache: 'no-store',
        });
      } catch (e) {
        throw new ApiError('down', ctl.signal.aborted ? 'no answer within ' + TIMEOUT_MS / 1000 + ' s' : 'no answer (' + e.message + ')');
      } finally {
        clearTimeout(timer);
      }
      const raw = await res.text().catch(() => '');
      if (res.status === 401) throw new ApiError('auth', 'the daemon refused the secret', 401);
      if (!res.ok) {
        let msg = raw;
        try { msg = JSON.parse(raw).message || raw; } catch (_) { /* not JSON */ }
        throw new ApiError('http', res.status + ': ' + msg, res.status);
      }
      if (text) return raw;
      try { return JSON.parse(raw); } catch (_) { throw new ApiError('http', 'the answer is not JSON', res.status); }
    }
    get(path, query, opts) { return this.request('GET', path, query, undefined, opts); }
    post(path, body) { return this.request('POST', path, undefined, body); }

    // Every channel, following /channels' cursor (at most `max`).
    async channels(max = 5000) {
      const all = [];
      let cursor = null;
      do {
        const page = await this.get('/channels', cursor ? { limit: 500, cursor } : { limit: 500 });
        all.push(...page.channels);
        cursor = page.cursor;
      } while (cursor && all.length < max);
      const seen = new Map(); // a rehash may list a channel twice
      for (const c of all) seen.set(c.channel, c);
      return [...seen.values()].sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
    }
  }

  window.geApi = { Api, ApiError };
})();
