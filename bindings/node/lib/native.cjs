'use strict';
// Loads the native addon (build/llmsvc.node, made by scripts/build.mjs).

const path = require('node:path');

const file = path.join(__dirname, '..', 'build', 'llmsvc.node');

try {
  module.exports = require(file);
} catch (err) {
  if (err?.code !== 'MODULE_NOT_FOUND') throw err;
  const e = new Error(`llmsvc: the native addon ${file} is not built. Build it with \`npm run build\` in ` +
    `${path.join(__dirname, '..')} (libllmsvc must be found by pkg-config).`, { cause: err });
  e.code = 'LLMSVC_ADDON_MISSING';
  throw e;
}
