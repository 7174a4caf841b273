#!/usr/bin/env bash
# Limits shared through Redis, measured with processes that each send as fast as their
# gates allow (tests/integration/shared_limits_worker.c) against the emulator and a local
# redis-server without persistence:
#   1. one process, a limit that never binds: requests per second (the whole process, start
#      and connection set-up included) with and without shared limits, and Redis script
#      calls per request;
#   2. three processes on one key sharing 300 requests per 2 s, 600 requests each: the
#      span from the first attempt to the last against the fastest schedule the limit
#      allows, the emulator's 429s, and script calls per request.
#
#   bench/shared_limits.sh [ROUNDS]   (default 3)
#
# Uses $BUILD_DIR (default build/release), building the library and the emulator there if
# needed; redis-server from Debian's package.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
build=${BUILD_DIR:-build/release}
if [ ! -e "$build/libllmsvc.so" ] || [ ! -x "$build/llmsvc-emulator" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLMSVC_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" --target llmsvc llmsvc_emulator
fi
command -v redis-server >/dev/null || { echo "shared_limits.sh: needs redis-server" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -o "$work/worker" tests/integration/shared_limits_worker.c -Iinclude \
  -L"$build" -lllmsvc -lpthread -Wl,-rpath,"$(cd "$build" && pwd)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done

emulator() {  # ARGS... -> sets url
  "$build/llmsvc-emulator" --port 0 "$@" >"$work/emu.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$work/emu.log" && break; sleep 0.05; done
  url="http://$(grep -o '127.0.0.1:[0-9]*' "$work/emu.log" | head -1)/v1"
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
# A budget new on a Redis that just started waits about a window and a second (it cannot
# be told from one Redis lost): start the clock after that.
sleep 4

echo "machine: $(nproc) cores, $(uname -r); build $build"
emulator --latency-ms 0
n=${N_ONE:-20000}
for r in $(seq "$rounds"); do
  for mode in local shared; do
    redis="-"; [ "$mode" = shared ] && redis="redis://127.0.0.1:$rport"
    t0=$(date +%s%N)
    line=$("$work/worker" "$url" "sk-one-$r-$mode" "$redis" "$n" 6000000 2000)
    t1=$(date +%s%N)
    calls=$(echo "$line" | field script_calls)
    rate=$(python3 -c "print(round($n * 1e9 / ($t1 - $t0)))")
    per=$([ "$mode" = shared ] && python3 -c "print(round($calls / $n, 3))" || echo -)
    echo "one process, $n requests, $mode limits: $rate requests/s, $per script calls per request"
  done
done
kill "${pids[-1]}"

emulator --rpm 9000 --window-ms 2000 --latency-ms 5
for r in $(seq "$rounds"); do
  key="sk-three-$r"
  workers=()
  for i in 1 2 3; do
    "$work/worker" "$url" "$key" "redis://127.0.0.1:$rport" 600 9000 2000 >"$work/w$i" &
    workers+=($!)
  done
  wait "${workers[@]}"
  cat "$work"/w1 "$work"/w2 "$work"/w3 >"$work/all"
  first=$(field first_start_ms <"$work/all" | sort -n | head -1)
  last=$(field last_start_ms <"$work/all" | sort -n | tail -1)
  calls=$(field script_calls <"$work/all" | paste -sd+ | bc)
  stats=$(curl -s "${url%/v1}/_emulator/stats?key=$key")
  limited=$(echo "$stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rate_limited"])')
  python3 - "$first" "$last" "$calls" "$limited" <<'PY'
import sys
first, last, calls, limited = (int(x) for x in sys.argv[1:])
ideal = (1800 // 300 - 1) * 2000
print(f"three processes, 1800 requests, 300 per 2 s: {last - first} ms against {ideal} "
      f"({100 * ideal / (last - first):.1f}% of the limit used), {limited} 429s, "
      f"{calls / 1800:.3f} script calls per request")
PY
done
