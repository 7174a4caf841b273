#!/usr/bin/env bash
# Every test: installs what is missing, then builds and runs the C++ and C tests three
# times: a warnings-as-errors build, an AddressSanitizer+UndefinedBehaviorSanitizer build
# and a ThreadSanitizer build; then the fuzz targets replay their corpus (every input that
# once crashed among them), the emulator's own Go tests run, and the tests of the Go, Node,
# Rust and Python bindings against the library installed from the first build. Each stage's time
# is printed at the end.
# Usage: tools/test-all.sh [--quick]   (--quick: no sanitizer builds, no fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
summary=()
started=$SECONDS
stage_start=$SECONDS
# Records a passed stage with the time it took since the previous one.
passed() {
  summary+=("$(printf '%-18s ok  %4d s' "$1" $((SECONDS - stage_start)))")
  stage_start=$SECONDS
}
# The stage times, also when a stage fails.
report() {
  local rc=$?
  echo "=== stage times"
  [ ${#summary[@]} -eq 0 ] || printf '%s\n' "${summary[@]}"
  if [ "$rc" -eq 0 ]; then
    echo "suites: ${#summary[@]} passed, 0 failed, in $((SECONDS - started)) s"
  else
    printf '%-18s FAILED after %d s (exit %d)\n' "$current" $((SECONDS - stage_start)) "$rc"
    echo "suites: ${#summary[@]} passed, 1 failed, in $((SECONDS - started)) s"
  fi
}
trap report EXIT
current="install deps"

./tools/install-deps.sh
passed "install deps"

run_suite() {  # name, extra cmake args...
  local name=$1; shift
  local dir=build/test-$name
  current=$name
  echo "=== $name: configure and build"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMSVC_WERROR=ON \
    -DLLMSVC_BUILD_BENCHMARKS=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "=== $name: ctest"
  (cd "$dir" && ctest -j "${test_jobs:-$jobs}" --output-on-failure --timeout 600 ${ctest_args:-})
  passed "$name"
}

run_suite plain
if [ "${1:-}" != "--quick" ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite asan-ubsan -DLLMSVC_SANITIZE=address,undefined
  # TSan: each test runs alone so its timing is not doubled by a neighbour (the build
  # still uses every core).
  # The simulator (label sim) has one thread: nothing there for TSan to look at.
  test_jobs=1 ctest_args="-LE sim" TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_suite tsan -DLLMSVC_SANITIZE=thread
  # libFuzzer targets of the parsers over their corpus, once each input (fuzz/,
  # docs/reliability.md); exploring for new findings is tools/fuzz.sh --explore.
  echo "=== fuzz replay"
  current="fuzz replay"
  ./tools/fuzz.sh --replay
  passed "fuzz replay"
fi

echo "=== emulator: go vet and go test -race"
current=emulator
(cd tools/emulator && go vet ./... && go test -race -count=1 ./...)
passed emulator

# The bindings use the library as users do: installed, found with pkg-config.
prefix=$PWD/build/test-plain/prefix
cmake --install build/test-plain --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig LD_LIBRARY_PATH=$prefix/lib
export LLMSVC_EMULATOR=$PWD/build/test-plain/llmsvc-emulator
for binding in go node rust python; do
  if [ -x "bindings/$binding/test.sh" ]; then
    echo "=== $binding binding"
    current="$binding binding"
    "bindings/$binding/test.sh"
    passed "$binding binding"
  fi
done

