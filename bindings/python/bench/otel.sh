#!/usr/bin/env bash
# The cost of llmsvc.otel: AsyncClient with telemetry off, on with the OpenTelemetry API alone
# (no SDK), and on with the SDK recording everything (bench.py --telemetry), against one
# emulator at concurrency 64, ROUNDS alternating rounds of N requests; medians of the CPU per
# request (the process, and the event-loop thread: the binding, the adapter and the core's
# submit). The SDK is installed into build/venv-bench only.
#
#   PKG_CONFIG_PATH=<prefix>/lib/pkgconfig LLMSVC_EMULATOR=<build>/llmsvc-emulator bindings/python/bench/otel.sh
#
# ROUNDS (default 5) and N (default 4000) adjust it. BASELINE=<directory holding another llmsvc
# package> adds it to every round as "baseline" (telemetry off, loading the same library): the
# cost with telemetry off against a build of the binding without the adapter.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -x ${LLMSVC_EMULATOR:-} ]] || { echo "bench/otel.sh: set LLMSVC_EMULATOR" >&2; exit 1; }

venv=build/venv-bench
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install "opentelemetry-api>=1.30" "opentelemetry-sdk>=1.30"
"${pip[@]}" install --force-reinstall --no-deps .
py=$venv/bin/python

port_file=$(mktemp)
"$LLMSVC_EMULATOR" --port 0 --port-file "$port_file" >/dev/null 2>&1 &
emu=$!
trap 'kill $emu 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s $port_file ]] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$port_file")
rm -f "$port_file"

out=build/bench-otel.jsonl
: >"$out"
echo "== llmsvc.otel: ${ROUNDS:-5} alternating rounds of ${N:-4000} requests against $url" >&2
library=$(pkg-config --variable=libdir llmsvc)/libllmsvc.so.0
for round in $(seq "${ROUNDS:-5}"); do
  if [[ -n ${BASELINE:-} ]]; then
    PYTHONPATH=$BASELINE LLMSVC_LIBRARY=$library timeout 300 "$py" bench/bench.py once --client llmsvc --label baseline \
      --url "$url" --n "${N:-4000}" | tee -a "$out"
  fi
  for mode in off api sdk; do
    timeout 300 "$py" bench/bench.py once --client llmsvc --telemetry "$mode" --label "telemetry $mode" \
      --url "$url" --n "${N:-4000}" | tee -a "$out"
  done
done

"$py" - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {}
for c in dict.fromkeys(r["client"] for r in rows):
    rs = [r for r in rows if r["client"] == c]
    med[c] = [statistics.median(r[k] for r in rs) for k in ("cpu_us_per_request", "loop_thread_cpu_us_per_request", "requests_per_s")]
    med[c] += [sum(r["failed"] for r in rs), len(rs)]
off = med["telemetry off"]
print("| AsyncClient | CPU per request (median) | event-loop thread | requests/s (median) | failed | rounds | CPU vs off |")
print("|---|---|---|---|---|---|---|")
for c, (cpu, loop, rps, failed, rounds) in med.items():
    print(f"| {c} | {cpu:.1f} µs | {loop:.1f} µs | {rps:.0f} | {failed} | {rounds} | +{cpu - off[0]:.1f} µs |")
PY
