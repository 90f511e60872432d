'use strict';
// Loads the native addon built by `npm install` (node-gyp) into build/.
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const candidates = [
  process.env.GE_ADDON_PATH,
  path.join(root, 'build', 'Release', 'ganomede_events.node'),
  path.join(root, 'build', 'Debug', 'ganomede_events.node'),
].filter(Boolean);

let lastError;
for (const file of candidates) {
  try {
    module.exports = require(file);
    return;
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err;
    lastError = err;
  }
}
const err = new Error('ganomede-events: the native addon is not built (run `npm install` or `npm run build`): ' +
  (lastError && lastError.message));
err.code = 'MODULE_NOT_FOUND';
throw err;
