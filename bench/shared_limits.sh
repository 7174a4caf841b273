#!/usr/bin/env bash
# Limits shared through Redis, measured with processes that each send as fast as their
# gates allow (tests/integration/shared_limits_worker.c) against the emulator and a local
# redis-server without persistence, reached directly and through a proxy that adds a
# round-trip time (the emulator's --proxy-to: a cross-zone or busy network):
#   1. one process, 64 in flight, a limit that never binds, against a server answering at
#      once: requests per second (the whole process, start and connection set-up
#      included) and CPU per request, with limits of its own and with shared limits, Redis
#      script calls per request, and the engine thread's longest moment on a Redis call;
#   2. one, three and ten processes on one key sharing 300 requests per 2 s, 1,800 requests in
#      all: the span from the first attempt to the last against the fastest schedule the
#      limit allows, the emulator's 429s, and script calls per request.
#
#   bench/shared_limits.sh [ROUNDS]   (default 3; RTTS="0 0.2 1 2 5" in ms, 0: direct)
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
  emu_pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/emu.log" && break; sleep 0.05; done
  url="http://$(grep -o '127.0.0.1:[0-9]*' "$work/emu.log" | head -1)/v1"
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
# A budget new on a Redis that just started waits about a window and a second (it cannot
# be told from one Redis lost): start the clock after that.
sleep 4

echo "machine: $(nproc) cores, $(uname -r); build $build"
rtts=${RTTS:-0 0.2 1 2 5}
redis_via() {  # RTT_MS -> sets redis (a proxy for RTT > 0)
  if [ "$1" = 0 ]; then redis="redis://127.0.0.1:$rport"; return; fi
  local us
  us=$(python3 -c "print(int($1 * 500))")
  "$build/llmsvc-emulator" --port 0 --proxy-to "127.0.0.1:$rport" --proxy-delay-us "$us" \
    >"$work/proxy.log" 2>&1 &
  pids+=($!)
  proxy_pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/proxy.log" && break; sleep 0.05; done
  redis="redis://$(grep -o '127.0.0.1:[0-9]*' "$work/proxy.log" | head -1)"
}
proxy_stop() { [ -n "${proxy_pid:-}" ] && kill "$proxy_pid" 2>/dev/null || true; proxy_pid=; }

emulator --latency-ms 0
n=${N_ONE:-20000}
for rtt in $rtts; do
  redis_via "$rtt"
  for r in $(seq "$rounds"); do
    for mode in local shared; do
      use="-"; [ "$mode" = shared ] && use="$redis"
      t0=$(date +%s%N)
      line=$("$work/worker" "$url" "sk-one-$rtt-$r-$mode" "$use" "$n" 6000000 2000 64)
      t1=$(date +%s%N)
      python3 - "$n" "$t0" "$t1" "$mode" "$rtt" "$line" <<'PY'
import sys
n, t0, t1 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
mode, rtt = sys.argv[4], sys.argv[5]
f = dict(kv.split("=", 1) for kv in sys.argv[6].split())
cpu = float(f["cpu_ms"]) * 1e3 / n
if mode == "local":
    print(f"rtt {rtt} ms, one process, {n} requests, limits of its own: {n * 1e9 / (t1 - t0):.0f} "
          f"requests/s, {cpu:.1f} us CPU per request")
else:
    print(f"rtt {rtt} ms, one process, {n} requests, shared limits:    {n * 1e9 / (t1 - t0):.0f} "
          f"requests/s, {cpu:.1f} us CPU per request, {int(f['script_calls']) / n:.4f} script "
          f"calls per request, engine thread at most {f['engine_max_us']} us on a call, "
          f"mode {f['mode']}")
PY
    done
  done
  proxy_stop
done
kill "$emu_pid"

emulator --rpm 9000 --window-ms 2000 --latency-ms 5
for rtt in $rtts; do
  redis_via "$rtt"
  for procs in 1 3 10; do
    for r in $(seq "$rounds"); do
      key="sk-group-$rtt-$procs-$r"
      workers=()
      for i in $(seq "$procs"); do
        "$work/worker" "$url" "$key" "$redis" $((1800 / procs)) 9000 2000 >"$work/w$i" &
        workers+=($!)
      done
      wait "${workers[@]}"
      cat $(for i in $(seq "$procs"); do echo "$work/w$i"; done) >"$work/all"
      first=$(field first_start_ms <"$work/all" | sort -n | head -1)
      last=$(field last_start_ms <"$work/all" | sort -n | tail -1)
      calls=$(field script_calls <"$work/all" | paste -sd+ | bc)
      stats=$(curl -s "${url%/v1}/_emulator/stats?key=$key")
      limited=$(echo "$stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rate_limited"])')
      python3 - "$first" "$last" "$calls" "$limited" "$procs" "$rtt" <<'PY'
import sys
first, last, calls, limited, procs = (int(x) for x in sys.argv[1:6])
ideal = (1800 // 300 - 1) * 2000
print(f"rtt {sys.argv[6]} ms, {procs} processes, 1800 requests, 300 per 2 s: {last - first} ms "
      f"against {ideal} ({100 * ideal / (last - first):.1f}% of the limit used), {limited} 429s, "
      f"{calls / 1800:.3f} script calls per request")
PY
    done
  done
  proxy_stop
done
