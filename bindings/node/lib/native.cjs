'use strict';
// Loads the native addon (build/llmsvc.node, made by scripts/build.mjs).

const path = require('node:path');

const file = path.join(__dirname, '..', 'build', 'llmsvc.node');

let native;
try {
  native = require(file);
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND') {
    const e = new Error(
      `llmsvc: the native addon ${file} is not built. Build it with \`npm run build\` in ` +
        `${path.join(__dirname, '..')} (libllmsvc must be found by pkg-config).`,
    );
    e.code = 'LLMSVC_ADDON_MISSING';
    e.cause = err;
    throw e;
  }
  throw err;
}

module.exports = native;
