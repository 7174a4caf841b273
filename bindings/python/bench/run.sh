#!/usr/bin/env bash
# The peer comparison: AsyncClient vs AsyncOpenAI vs litellm.acompletion against one
# emulator at concurrency 64, ROUNDS alternating rounds (medians reported), then the
# limit-bound batch. The peers are installed into build/venv-bench only, never as a
# dependency of the package.
#
#   PKG_CONFIG_PATH=<prefix>/lib/pkgconfig LLMSVC_EMULATOR=<build>/llmsvc-emulator bindings/python/bench/run.sh
#
# ROUNDS (default 5), N_LLMSVC / N_OPENAI / N_LITELLM (requests per round: 4000 / 1000 /
# 400), LIMIT_N (900), LIMIT_RPM (600) and LIMIT_WINDOW_MS (60000: LiteLLM's Router only counts per minute) adjust it.
# CLIENTS (default "llmsvc openai litellm") picks the clients of each round; LIMIT=0 skips
# the limit-bound batch. BASELINE=<directory holding another llmsvc package> adds it to
# every round as "llmsvc-baseline" (loading the same library), to compare two builds of
# the binding under the same load.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -x ${LLMSVC_EMULATOR:-} ]] || { echo "bench/run.sh: set LLMSVC_EMULATOR" >&2; exit 1; }

venv=build/venv-bench
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install "openai==3.63.0" "litellm==1.110.2"
"${pip[@]}" install --force-reinstall --no-deps .
py=$venv/bin/python

emu_pids=()
trap 'for p in "${emu_pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
start_emulator() {  # flags... ; sets $url
  local port_file
  port_file=$(mktemp)
  "$LLMSVC_EMULATOR" --port 0 --port-file "$port_file" "$@" >/dev/null 2>&1 &
  emu_pids+=($!)
  for _ in $(seq 100); do [[ -s $port_file ]] && break; sleep 0.05; done
  url=http://127.0.0.1:$(cat "$port_file")
  rm -f "$port_file"
}

out=build/bench-results.jsonl
: >"$out"
start_emulator
echo "== throughput: ${ROUNDS:-5} alternating rounds against $url" >&2
clients=${CLIENTS:-llmsvc openai litellm}
[[ -n ${BASELINE:-} ]] && clients="$clients llmsvc-baseline"
library=$(pkg-config --variable=libdir llmsvc)/libllmsvc.so.0
for round in $(seq "${ROUNDS:-5}"); do
  for client in $clients; do
    case $client in
      llmsvc*) n=${N_LLMSVC:-4000} ;; openai) n=${N_OPENAI:-1000} ;; litellm) n=${N_LITELLM:-400} ;;
    esac
    if [[ $client == llmsvc-baseline ]]; then
      PYTHONPATH=$BASELINE LLMSVC_LIBRARY=$library timeout 300 "$py" bench/bench.py once --client llmsvc \
        --label "$client" --url "$url" --n "$n" | tee -a "$out"
    else
      timeout 300 "$py" bench/bench.py once --client "$client" --url "$url" --n "$n" | tee -a "$out"
    fi
  done
done

[[ ${LIMIT:-1} == 0 ]] || echo "== limit-bound batch" >&2
[[ ${LIMIT:-1} == 0 ]] || for client in llmsvc litellm; do
  start_emulator --rpm "${LIMIT_RPM:-600}" --window-ms "${LIMIT_WINDOW_MS:-60000}"
  timeout 600 "$py" bench/bench.py limit --client "$client" --url "$url" --n "${LIMIT_N:-900}" \
    --rpm "${LIMIT_RPM:-600}" --window-ms "${LIMIT_WINDOW_MS:-60000}" | tee -a "$out"
done

"$py" - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
once = [r for r in rows if "cpu_us_per_request" in r]
med = {}
for c in dict.fromkeys(r["client"] for r in once):
    rs = [r for r in once if r["client"] == c]
    med[c] = (statistics.median(r["cpu_us_per_request"] for r in rs), statistics.median(r["loop_thread_cpu_us_per_request"] for r in rs),
              statistics.median(r["requests_per_s"] for r in rs), sum(r["failed"] for r in rs), len(rs))
print("| client | CPU per request (median) | event-loop thread | requests/s (median) | failed | rounds | CPU vs llmsvc |")
print("|---|---|---|---|---|---|---|")
for c, (cpu, loop, rps, failed, rounds) in med.items():
    print(f"| {c} | {cpu:.1f} µs | {loop:.1f} µs | {rps:.0f} | {failed} | {rounds} | {cpu / med['llmsvc'][0]:.2f}× |")
print()
print("| client | requests | ok | seconds | limit-bound seconds | 429s | sent |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    if "seconds" in r:
        print(f"| {r['client']} | {r['n']} | {r['ok']} | {r['seconds']:.2f} | {r['limit_bound_seconds']:.2f} | {r['http_429']} | {r['received']} |")
PY
