'use strict';
// llmsvc for Node.js: CommonJS entry point. See README.md and index.d.cts.
module.exports = { ...require('./lib/client.cjs'), ...require('./lib/errors.cjs') };
