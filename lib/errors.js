'use strict';
// Errors of requests: an Error with statusCode (0 for network errors),
// restCode (the server's `code`), body (the parsed JSON body, or the raw
// text), and for network errors `code` (ECONNREFUSED, ETIMEDOUT...).
function requestError(status, code, message, body) {
  const err = new Error(message || (status ? 'HTTP ' + status : code));
  err.statusCode = status;
  let parsed = body;
  if (typeof body === 'string' && body.length) {
    try { parsed = JSON.parse(body); } catch (_) { parsed = body; }
  }
  err.body = parsed;
  if (status) {
    err.restCode = code;
  } else {
    err.code = code;
  }
  return err;
}

const RC = { '-22': 'invalid argument', '-17': 'already subscribed', '-2': 'not subscribed', '-108': 'client closed' };

function engineError(rc) {
  const err = rc === -108 ? new Error('ganomede-events: the client is closed') : new TypeError('ganomede-events: ' + (RC[rc] || 'error ' + rc));
  err.code = rc === -108 ? 'ERR_CLIENT_CLOSED' : 'ERR_INVALID_ARG';
  return err;
}

module.exports = { requestError, engineError };
