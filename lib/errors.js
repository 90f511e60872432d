'use strict';
// Errors of requests: an Error with statusCode (0 for network errors),
// restCode (the server's `code`), body (the parsed JSON body, or the raw
// text), and for network errors `code` (ECONNREFUSED, ETIMEDOUT...).
// Engine return codes come from the C API (ge_strerror / ge_err_name) through
// the addon: no number is written here.
const binding = require('./binding');

const { codes } = binding;

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

// Signals of a successful poll (docs/retention.md): code 'EventsLost' with
// fields {from, to} (ids removed before they were read), or 'CursorReset'
// with {counter} (the channel's last id: the cursor was not on its history).
function signalError(code, message, fields) {
  const err = new Error(message);
  err.code = code;
  err.statusCode = 200;
  return Object.assign(err, fields);
}

// A request the engine refused to start: closed client, or a bad argument.
function engineError(rc) {
  const text = 'ganomede-events: ' + binding.strerror(rc);
  if (rc === codes.GE_ECLOSED) return Object.assign(new Error(text), { code: 'ERR_CLIENT_CLOSED' });
  return Object.assign(new TypeError(text), { code: 'ERR_INVALID_ARG' });
}

module.exports = { requestError, signalError, engineError };
