#!/usr/bin/env bash
# Tests of the Go binding: go vet, then go test -race (benchmarks are not run here), of the
# binding and of its OpenTelemetry adapter (otelllmsvc/, a module of its own: its
# dependencies are fetched from the Go module proxy as its go.sum pins them); the
# benchmarks' module (bench/) is vetted so that it keeps compiling.
#
# Environment:
#   PKG_CONFIG_PATH   where llmsvc.pc is (the install prefix's lib/pkgconfig)
#   LD_LIBRARY_PATH   where libllmsvc.so.0 is at run time (unless installed system-wide)
#   LLMSVC_EMULATOR   the llmsvc-emulator binary the tests start; without it the tests
#                     that need it are skipped, with a message saying so
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v go >/dev/null || { echo "test.sh: go is not installed" >&2; exit 1; }
if ! pkg-config --exists llmsvc; then
  echo "test.sh: pkg-config cannot find llmsvc; set PKG_CONFIG_PATH to PREFIX/lib/pkgconfig" >&2
  exit 1
fi
if [ -z "${LLMSVC_EMULATOR:-}" ]; then
  echo "test.sh: LLMSVC_EMULATOR is not set; the tests against the emulator will be skipped" >&2
elif [ ! -x "$LLMSVC_EMULATOR" ]; then
  echo "test.sh: LLMSVC_EMULATOR=$LLMSVC_EMULATOR is not an executable" >&2
  exit 1
fi

echo "=== go vet ./..."
go vet ./...
echo "=== go test -race -count=1 ./..."
go test -race -count=1 -timeout 600s ./...

echo "=== otelllmsvc: go vet ./..."
(cd otelllmsvc && go vet ./...)
echo "=== otelllmsvc: go test -race -count=1 ./..."
(cd otelllmsvc && go test -race -count=1 -timeout 600s ./...)

echo "=== bench: go vet ./..."
(cd bench && go vet ./...)
