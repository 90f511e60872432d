'use strict';
// require('ganomede-events') -> { Client, Cursor, IndexerClient }.
// Needs no environment variable: the server's configuration is not read here.
const { Client } = require('./client');
const { Cursor } = require('./cursor');
const { IndexerClient } = require('./indexer-client');

module.exports = { Client, Cursor, IndexerClient };
