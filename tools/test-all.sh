#!/usr/bin/env bash
# Every test: installs what is missing, then builds and runs the C++ and C tests three
# times: a warnings-as-errors build, an AddressSanitizer+UndefinedBehaviorSanitizer build
# and a ThreadSanitizer build; then the emulator's own Go tests and the tests of the Go,
# Node and Rust bindings against the library installed from the first build; the fuzz
# targets run for a bounded time after the sanitizer builds.
# Usage: tools/test-all.sh [--quick]   (--quick: no sanitizer builds, no fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/install-deps.sh
jobs=$(nproc)
summary=()

run_suite() {  # name, extra cmake args...
  local name=$1; shift
  local dir=build/test-$name
  echo "=== $name: configure and build"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMSVC_WERROR=ON \
    -DLLMSVC_BUILD_BENCHMARKS=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "=== $name: ctest"
  (cd "$dir" && ctest -j "$jobs" --output-on-failure --timeout 300)
  summary+=("$name: ok")
}

run_suite plain
if [ "${1:-}" != "--quick" ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite asan-ubsan -DLLMSVC_SANITIZE=address,undefined
  # TSan: each test runs alone so its timing is not doubled by a neighbour.
  jobs=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_suite tsan -DLLMSVC_SANITIZE=thread
  # libFuzzer targets of the parsers, a bounded time each (fuzz/, docs/reliability.md).
  echo "=== fuzz"
  ./tools/fuzz.sh 20
  summary+=("fuzz: ok")
fi

echo "=== emulator: go vet and go test -race"
(cd tools/emulator && go vet ./... && go test -race -count=1 ./...)
summary+=("emulator: ok")

# The bindings use the library as users do: installed, found with pkg-config.
prefix=$PWD/build/test-plain/prefix
cmake --install build/test-plain --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig LD_LIBRARY_PATH=$prefix/lib
export LLMSVC_EMULATOR=$PWD/build/test-plain/llmsvc-emulator
for binding in go node rust; do
  if [ -x "bindings/$binding/test.sh" ]; then
    echo "=== $binding binding"
    "bindings/$binding/test.sh"
    summary+=("$binding binding: ok")
  fi
done

printf '%s\n' "${summary[@]}"
echo "suites: ${#summary[@]} passed, 0 failed"
