#!/usr/bin/env bash
# Tests of the Python binding: installs the package into a virtualenv under build/ (with
# pytest, pytest-asyncio, pydantic and opentelemetry-sdk for the llmsvc.otel tests), built
# against the libllmsvc that pkg-config finds,
# then runs pytest against the emulator.
#
#   PKG_CONFIG_PATH=<prefix>/lib/pkgconfig LD_LIBRARY_PATH=<prefix>/lib \
#     LLMSVC_EMULATOR=<build>/llmsvc-emulator bindings/python/test.sh
#
# Without LLMSVC_EMULATOR the tests that need a server are skipped (and say so).
# PYTHON picks the interpreter (default python3, at least 3.10); TEST_TIMEOUT bounds the
# pytest run in seconds (default 600).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

die() { echo "bindings/python/test.sh: $*" >&2; exit 1; }

python=${PYTHON:-python3}
command -v "$python" >/dev/null || die "$python is required"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "Python >= 3.10 is required"
pkg-config --exists llmsvc 2>/dev/null ||
  die "pkg-config does not find llmsvc; set PKG_CONFIG_PATH to <install prefix>/lib/pkgconfig"
if [[ -n ${LLMSVC_EMULATOR:-} ]]; then
  [[ -x $LLMSVC_EMULATOR ]] || die "LLMSVC_EMULATOR=$LLMSVC_EMULATOR is not an executable"
  LLMSVC_EMULATOR=$(cd "$(dirname "$LLMSVC_EMULATOR")" && pwd)/$(basename "$LLMSVC_EMULATOR")
  export LLMSVC_EMULATOR
else
  echo "bindings/python/test.sh: LLMSVC_EMULATOR is not set; tests that need the emulator are skipped" >&2
fi

venv=build/venv
echo "== virtualenv $venv" >&2
[[ -x $venv/bin/python ]] || "$python" -m venv "$venv" ||
  die "cannot create a virtualenv (Debian: apt-get install python3-venv)"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install "pytest>=7" "pytest-asyncio>=0.23" "pydantic>=2" "opentelemetry-api>=1.30" "opentelemetry-sdk>=1.30"

echo "== pip install . (against the installed libllmsvc)" >&2
"${pip[@]}" install --force-reinstall --no-deps .
# The library the package loads is the one pkg-config names, not one bundled by a build.
"$venv/bin/python" -c 'import llmsvc._native as n; print("llmsvc", n.version(), "from", n.lib._name)'

echo "== pytest" >&2
timeout "${TEST_TIMEOUT:-600}" "$venv/bin/python" -m pytest -p no:cacheprovider -q -ra tests
