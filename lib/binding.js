'use strict';
// Loads the native addon through node-gyp-build: build/Release (a local
// build) first, else the prebuilt binary for this platform in prebuilds/
// (README.md, "Installing the npm package"). GE_ADDON_PATH names a file to load instead.
const path = require('node:path');

const root = path.resolve(__dirname, '..');
if (process.env.GE_ADDON_PATH) {
  module.exports = require(process.env.GE_ADDON_PATH);
} else {
  try {
    module.exports = require('node-gyp-build')(root);
  } catch (cause) {
    const err = new Error('ganomede-events: no native addon for ' + process.platform + '-' + process.arch +
      ' (no prebuild, and none compiled: run `npm rebuild ganomede-events` with a C compiler and ' +
      'libcurl\'s headers installed): ' + cause.message);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }
}
