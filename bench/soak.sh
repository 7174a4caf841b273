#!/usr/bin/env bash
# Soak: N requests (default 200,000) through llmsvc against the emulator with every fault
# on — 5xx answers, connection resets, stalled requests, and 429s from its rate limit — in
# bounded time. Checks that every request completes exactly once and that memory, file
# descriptors and threads come back; prints the numbers (docs/reliability.md).
#
#   bench/soak.sh [N]
# Uses $BUILD_DIR (default build/release), building what it needs there.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
build=${BUILD_DIR:-build/release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLMSVC_BUILD_TESTS=OFF \
  -DLLMSVC_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$build" --target llmsvc_soak llmsvc_emulator >/dev/null

work=$(mktemp -d)
emu_pid=
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# 3% 5xx, 1% resets, 0.2% stalls (held 5 s; the client's attempt timeout is 1 s), and a
# limit of 6,000 requests per second that the unlimited client runs into (429s).
"$build/llmsvc-emulator" --host 127.0.0.1 --port 0 --port-file "$work/port" --seed 7 \
  --error-rate 0.03 --reset-rate 0.01 --stall-rate 0.002 --stall-ms 5000 \
  --rpm 360000 --window-ms 1000 >/dev/null &
emu_pid=$!
for _ in $(seq 1 500); do [ -s "$work/port" ] && break; sleep 0.01; done
port=$(cat "$work/port")
timeout 900 "$build/bench/llmsvc_soak" --base-url "http://127.0.0.1:$port/v1" --n "$n"
curl -s "http://127.0.0.1:$port/_emulator/stats?key=sk-soak" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("emulator        received %d: ok %d, 5xx %d, resets %d, stalls %d, 429 %d" % (
    s["received"], s["ok"], s["server_errors"], s["resets"], s["stalls"], s["rate_limited"]))'
