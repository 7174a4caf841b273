#!/usr/bin/env bash
# Tests of the Node.js binding: installs the dev dependencies (npm ci), builds the
# addon with warnings as errors, checks the type declarations (tsc --noEmit) and runs
# the tests (node --test).
#
#   PKG_CONFIG_PATH=<prefix>/lib/pkgconfig LLMSVC_EMULATOR=<build>/llmsvc-emulator \
#     bindings/node/test.sh
#
# PKG_CONFIG_PATH must let pkg-config find libllmsvc. Without LLMSVC_EMULATOR the tests
# that need a server are skipped (and say so). TEST_TIMEOUT bounds the whole test run
# in seconds (default 600).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

die() { echo "bindings/node/test.sh: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is required"
command -v npm >/dev/null || die "npm is required"
pkg-config --exists llmsvc 2>/dev/null ||
  die "pkg-config does not find llmsvc; set PKG_CONFIG_PATH to <install prefix>/lib/pkgconfig"
if [[ -n ${LLMSVC_EMULATOR:-} ]]; then
  [[ -x $LLMSVC_EMULATOR ]] || die "LLMSVC_EMULATOR=$LLMSVC_EMULATOR is not an executable"
  LLMSVC_EMULATOR=$(cd "$(dirname "$LLMSVC_EMULATOR")" && pwd)/$(basename "$LLMSVC_EMULATOR")
  export LLMSVC_EMULATOR
else
  echo "bindings/node/test.sh: LLMSVC_EMULATOR is not set; tests that need the emulator are skipped" >&2
fi

echo "== npm ci" >&2
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

echo "== build the addon" >&2
LLMSVC_NODE_WERROR=1 node scripts/build.mjs

echo "== tsc --noEmit" >&2
node_modules/.bin/tsc --noEmit -p tsconfig.json

echo "== node --test" >&2
timeout "${TEST_TIMEOUT:-600}" node --test --test-reporter=spec test/*.test.mjs
