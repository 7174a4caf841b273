#!/bin/sh
# Checks the Rust binding: formatting, lints, unit, integration and doc tests.
#
# Needs an installed libllmsvc and the emulator:
#   PKG_CONFIG_PATH=<prefix>/lib/pkgconfig   (finds llmsvc.pc)
#   LD_LIBRARY_PATH=<prefix>/lib             (loads libllmsvc.so at run time)
#   LLMSVC_EMULATOR=<path>/llmsvc-emulator   (integration tests skip without it)
# CARGO_BUILD_JOBS bounds the build (2 by default).
set -eu
cd "$(dirname "$0")"

: "${CARGO_BUILD_JOBS:=2}"
export CARGO_BUILD_JOBS

if [ -z "${LLMSVC_EMULATOR:-}" ]; then
  echo "test.sh: LLMSVC_EMULATOR is not set; the integration tests will be skipped" >&2
fi

cargo fetch --locked
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo clippy -p llmsvc --no-default-features --locked -- -D warnings
cargo test --workspace --locked
# The OpenTelemetry adapter (feature `otel`): its unit, integration and doc tests, and the
# rest of the suite with the feature compiled in.
cargo test -p llmsvc --all-features --locked
if command -v valgrind >/dev/null 2>&1 && [ -n "${LLMSVC_EMULATOR:-}" ]; then
  # The integration tests once more under memcheck: no invalid access, no definite leak.
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --quiet" \
    cargo test -p llmsvc --test client --test tools --locked -- --test-threads=1
fi
echo "rust binding: all checks passed"
