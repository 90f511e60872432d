'use strict';
// tap's coverage map: whatever a test file runs, the coverage report is of
// the package's JavaScript, lib/ (the tests and their helpers are not).
module.exports = () => 'lib/**/*.js';
