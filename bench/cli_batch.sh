#!/usr/bin/env bash
# How close `llmsvc run` gets to the time its rate limit allows.
#
#   bench/cli_batch.sh [N [RPM [WINDOW_MS [CONCURRENCY]]]]  (defaults: 10000 30000 1000 64)
#
# Starts the emulator with a sliding window of WINDOW_MS and RPM requests per minute, runs
# `llmsvc run` with the same limits over N generated requests, and reports the wall time
# against the least the limit allows: with the per-window allowance A = RPM*WINDOW_MS/60000,
# N requests need at least (ceil(N/A)-1)*WINDOW_MS ms. Also reports the emulator's 429s
# (should be 0: the gates never cross the limit) and the tool's peak RSS.
# Uses $BUILD_DIR (default build/release), building llmsvc and the emulator there if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
rpm=${2:-30000}
window=${3:-1000}
concurrency=${4:-64}  # 0: no limit (a whole window's allowance is sent at once)
build=${BUILD_DIR:-build/release}
if [ ! -x "$build/llmsvc" ] || [ ! -x "$build/llmsvc-emulator" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLMSVC_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" --target llmsvc_cli llmsvc_emulator
fi

work=$(mktemp -d)
emu_pid=
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$build/llmsvc-emulator" --host 127.0.0.1 --port 0 --port-file "$work/port" \
  --rpm "$rpm" --window-ms "$window" >/dev/null &
emu_pid=$!
for _ in $(seq 1 500); do [ -s "$work/port" ] && break; sleep 0.01; done
port=$(cat "$work/port")

python3 - "$n" >"$work/in.jsonl" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print('{"id": %d, "prompt": "Benchmark request number %d.", "max_output_tokens": 16}' % (i, i))
PY

key=sk-bench-$$
start=$(date +%s%N)
OPENAI_API_KEY=$key "$build/llmsvc" run "$work/in.jsonl" -o "$work/out.jsonl" --quiet \
  --base-url "http://127.0.0.1:$port/v1" --rpm "$rpm" --window-ms "$window" \
  --concurrency "$concurrency" \
  --summary-json "$work/summary.json" || true
end=$(date +%s%N)

python3 - "$n" "$rpm" "$window" "$start" "$end" "$work/summary.json" "$work/out.jsonl" \
  "http://127.0.0.1:$port/_emulator/stats?key=$key" <<'PY'
import json, math, sys, urllib.request
n, rpm, window = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
wall_ms = (int(sys.argv[5]) - int(sys.argv[4])) / 1e6
summary = json.load(open(sys.argv[6]))
lines = sum(1 for _ in open(sys.argv[7]))
stats = json.load(urllib.request.urlopen(sys.argv[8]))
allowance = max(1, rpm * window // 60000)
ideal_ms = (math.ceil(n / allowance) - 1) * window
print(f"requests        {n} ({summary['ok']} ok, {summary['failed']} failed, {lines} result lines)")
print(f"limit           {rpm} rpm in a {window} ms sliding window: {allowance} per window")
print(f"wall time       {wall_ms:.0f} ms (tool start to exit)")
print(f"least allowed   {ideal_ms} ms  -> {100 * (wall_ms - ideal_ms) / ideal_ms:+.2f}%"
      if ideal_ms else f"least allowed   0 ms")
print(f"emulator        {stats['received']} received, {stats['rate_limited']} answered 429, "
      f"peak window {stats['peak_window_requests']} of {stats['req_cap']}")
print(f"tool            peak RSS {summary['peak_rss_kib'] / 1024:.1f} MiB, "
      f"CPU {summary['cpu_s']:.2f} s ({1e6 * summary['cpu_s'] / n:.0f} us per request)")
PY
