#!/usr/bin/env bash
# An embeddings batch through `llmsvc run` under a tokens-per-minute limit: how close it
# gets to the time the limit allows, and whether it ever crosses it.
#
#   bench/embeddings_batch.sh [INPUTS [PER_REQUEST [TPM [WINDOW_MS]]]]
#     (defaults: 100000 100 2880000 1000: 12-token inputs, 48,000 tokens per 1 s window)
#
# Generates INPUTS inputs of equal length (12 tokens each as OpenAI-style limiters count:
# ceil(bytes / 4)), PER_REQUEST to a request (dimensions 32, to keep the results file
# small), starts the emulator with the same sliding window, and runs `llmsvc run` with the
# same limit. With A = TPM * WINDOW_MS / 60000 tokens per window and k tokens per request,
# R requests need at least (ceil(R / floor(A / k)) - 1) * WINDOW_MS ms: reported against
# the tool's whole run (start-up and the last reply included); also the vectors written,
# the emulator's 429s (should be 0) and the tool's CPU.
# Uses $BUILD_DIR (default build/release), building llmsvc and the emulator there if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
inputs=${1:-100000}
per=${2:-100}
tpm=${3:-2880000}
window=${4:-1000}
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
  --tpm "$tpm" --window-ms "$window" >/dev/null &
emu_pid=$!
for _ in $(seq 1 500); do [ -s "$work/port" ] && break; sleep 0.01; done
port=$(cat "$work/port")

python3 - "$inputs" "$per" >"$work/in.jsonl" <<'PY'
import json, sys
inputs, per = int(sys.argv[1]), int(sys.argv[2])
for r in range(0, inputs, per):
    batch = ["embedding benchmark input no. %09d, padded." % i  # 48 bytes: 12 tokens
             for i in range(r, min(r + per, inputs))]
    print(json.dumps({"id": r // per, "model": "text-embedding-3-small", "input": batch,
                      "dimensions": 32}))
PY

key=sk-embed-bench-$$
start=$(date +%s%N)
OPENAI_API_KEY=$key "$build/llmsvc" run "$work/in.jsonl" -o "$work/out.jsonl" --quiet \
  --base-url "http://127.0.0.1:$port/v1" --model text-embedding-3-small \
  --tpm "$tpm" --window-ms "$window" --summary-json "$work/summary.json" || true
end=$(date +%s%N)

python3 - "$inputs" "$per" "$tpm" "$window" "$start" "$end" "$work/summary.json" \
  "$work/out.jsonl" "http://127.0.0.1:$port/_emulator/stats?key=$key" <<'PY'
import json, math, sys, urllib.request
inputs, per, tpm, window = (int(x) for x in sys.argv[1:5])
wall_ms = (int(sys.argv[6]) - int(sys.argv[5])) / 1e6
summary = json.load(open(sys.argv[7]))
vectors, tokens, cost, ok, dims = 0, 0, 0, 0, set()
with open(sys.argv[8]) as f:
    for line in f:
        r = json.loads(line)
        if r.get("ok"):
            ok += 1
            vectors += len(r.get("embeddings", []))
            dims.update(len(v) for v in r.get("embeddings", []))
            tokens += r["usage"]["prompt_tokens"]
            cost += r.get("cost_nano_usd") or 0
stats = json.load(urllib.request.urlopen(sys.argv[9]))
k = per * 12
allowance = tpm * window // 60000
requests = math.ceil(inputs / per)
ideal_ms = (math.ceil(requests / (allowance // k)) - 1) * window
print(f"inputs          {inputs} in {requests} requests of {per} ({ok} ok, {vectors} vectors "
      f"of {sorted(dims)} floats, {tokens} tokens, ${cost / 1e9:.4f})")
print(f"limit           {tpm} tpm in a {window} ms sliding window: {allowance} tokens, "
      f"{allowance // k} requests per window")
print(f"least allowed   {ideal_ms} ms")
print(f"wall time       {wall_ms:.0f} ms (tool start to exit) -> "
      f"{100 * (wall_ms - ideal_ms) / ideal_ms:+.2f}%")
print(f"emulator        {stats['received']} received, {stats['rate_limited']} answered 429, "
      f"peak window tokens {stats.get('peak_window_tokens', '?')} of {allowance}")
print(f"tool            peak RSS {summary['peak_rss_kib'] / 1024:.1f} MiB, "
      f"CPU {summary['cpu_s']:.2f} s ({1e6 * summary['cpu_s'] / inputs:.1f} us per input)")
PY
