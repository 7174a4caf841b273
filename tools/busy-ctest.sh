#!/usr/bin/env bash
# Runs ctest again and again while other processes keep every core busy, to find tests
# that pass only on a quiet machine.
#
#   tools/busy-ctest.sh [RUNS [BUILD_DIR [CTEST_ARGS...]]]   (defaults: 20, build/test-plain)
#
# One busy loop per core runs for the whole time (at normal priority, as a loaded machine
# would); each run's result is printed as a line, failures with the tests that failed, and
# the exit status is the number of failed runs (at most 125). The build directory must be
# built already.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
dir=${2:-build/test-plain}
shift $(( $# > 2 ? 2 : $# ))
[ -f "$dir/CTestTestfile.cmake" ] || { echo "busy-ctest: $dir is not a build directory" >&2; exit 126; }

busy=()
cleanup() { [ ${#busy[@]} -gt 0 ] && kill "${busy[@]}" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
for _ in $(seq 1 "$(nproc)"); do
  (while :; do :; done) &
  busy+=($!)
done

failed=0
for i in $(seq 1 "$runs"); do
  start=$SECONDS
  log=$(cd "$dir" && ctest -j "$(nproc)" --timeout 600 "$@" 2>&1)
  if echo "$log" | grep -q "100% tests passed"; then
    echo "run $i: passed in $((SECONDS - start)) s"
  else
    failed=$((failed + 1))
    echo "run $i: FAILED in $((SECONDS - start)) s:"
    echo "$log" | sed -n '/The following tests FAILED/,$p' | grep -E '^\s+[0-9]+ - ' | sed 's/^/  /'
  fi
done
echo "$((runs - failed)) of $runs runs passed with $(nproc) busy loops beside them"
exit $(( failed > 125 ? 125 : failed ))
