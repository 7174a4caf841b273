// Builds the native addon build/llmsvc.node with the system C compiler, offline.
//
//   node scripts/build.mjs            (npm run build; also the package's install script)
//
// libllmsvc is found with pkg-config (set PKG_CONFIG_PATH for a non-system prefix) and
// the Node-API headers come from the node-api-headers package, so neither node-gyp nor
// a download of Node's headers is needed. The addon links libllmsvc with an rpath to
// its libdir; the Node-API symbols are resolved from the node process when it loads.
//
// Environment: CC (default cc), CFLAGS (appended), LLMSVC_NODE_WERROR=1 (warnings are
// errors), LLMSVC_NODE_DEBUG=1 (-O0 -g instead of -O2).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function die(msg) {
  process.stderr.write(`llmsvc build: ${msg}\n`);
  process.exit(1);
}

function split(s) {
  return s.trim().split(/\s+/).filter(Boolean);
}

function pkgConfig(...args) {
  try {
    return execFileSync('pkg-config', [...args, 'llmsvc'], { encoding: 'utf8' });
  } catch (err) {
    const why = err.code === 'ENOENT' ? 'pkg-config is not installed' : String(err.stderr || err.message).trim();
    die(`libllmsvc was not found with pkg-config (${why}).\n` +
      'Install libllmsvc, or point PKG_CONFIG_PATH at its lib/pkgconfig directory, e.g.\n' +
      '  cmake --install build --prefix $PWD/prefix && export PKG_CONFIG_PATH=$PWD/prefix/lib/pkgconfig');
  }
}

let napiInclude;
try {
  napiInclude = require('node-api-headers').include_dir;
} catch {
  die('the node-api-headers package is missing; run npm install (or npm ci) first');
}

const cflags = split(pkgConfig('--cflags'));
const libs = split(pkgConfig('--libs'));
const libdir = pkgConfig('--variable=libdir').trim();

const cc = process.env.CC || 'cc';
const out = path.join(root, 'build', 'llmsvc.node');
const tmp = `${out}.${process.pid}.tmp`;
fs.mkdirSync(path.dirname(out), { recursive: true });

const args = [
  '-std=c11',
  process.env.LLMSVC_NODE_DEBUG === '1' ? '-O0' : '-O2',
  '-g',
  '-fPIC',
  '-fvisibility=hidden',
  '-Wall',
  '-Wextra',
  ...(process.env.LLMSVC_NODE_WERROR === '1' ? ['-Werror'] : []),
  '-DNAPI_VERSION=8',
  `-I${napiInclude}`,
  ...cflags,
  ...split(process.env.CFLAGS || ''),
  '-shared',
  path.join(root, 'src', 'addon.c'),
  '-o',
  tmp,
  ...libs,
  ...(libdir ? [`-Wl,-rpath,${libdir}`] : []),
  // Node-API symbols come from the executable that loads the addon.
  ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []),
];

process.stderr.write(`${cc} ${args.join(' ')}\n`);
try {
  execFileSync(cc, args, { stdio: 'inherit' });
} catch (err) {
  fs.rmSync(tmp, { force: true });
  die(err.code === 'ENOENT' ? `the C compiler '${cc}' was not found (set CC)` : 'the compiler failed');
}
fs.renameSync(tmp, out);
process.stderr.write(`built ${path.relative(process.cwd(), out) || out}\n`);
