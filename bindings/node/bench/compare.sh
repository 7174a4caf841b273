#!/usr/bin/env bash
# Side by side against one llmsvc-emulator: this binding (bench/bench.mjs) and the
# official `openai` npm package (bench/peers/openai-node/bench.mjs), same requests,
# same concurrency, same command line.
#
#   LLMSVC_EMULATOR=<build>/llmsvc-emulator bindings/node/bench/compare.sh [N] [CONCURRENCY]
#
# Defaults: N=5000, CONCURRENCY=32. Environment: WARMUP (200), ROUNDS (3), MODEL
# (gpt-4o-mini), RUN_TIMEOUT seconds per run (300), BASELINE (another copy of this package,
# built, e.g. an earlier version: run with its own bench/bench.mjs as a third client,
# "llmsvc-node-baseline"). The clients alternate (this binding first in odd rounds, last in
# even ones); the emulator's counters are reset before each run. The addon must be built
# (npm run build) and the peer installed (npm ci in bench/peers/openai-node).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEER_DIR=$(cd "$HERE/../../../bench/peers/openai-node" && pwd)
N=${1:-5000}
CONCURRENCY=${2:-32}
WARMUP=${WARMUP:-200}
ROUNDS=${ROUNDS:-3}
MODEL=${MODEL:-gpt-4o-mini}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}

die() { echo "compare.sh: $*" >&2; exit 1; }
[[ -x ${LLMSVC_EMULATOR:-} ]] || die "set LLMSVC_EMULATOR to the llmsvc-emulator binary"
[[ -f $HERE/../build/llmsvc.node ]] || die "the addon is not built: npm run build in bindings/node"
[[ -d $PEER_DIR/node_modules/openai ]] || die "the peer is not installed: npm ci --prefix $PEER_DIR"
CLIENTS=(llmsvc-node openai-node)
if [[ -n ${BASELINE:-} ]]; then
  [[ -f $BASELINE/bench/bench.mjs && -f $BASELINE/build/llmsvc.node ]] ||
    die "BASELINE=$BASELINE is not a built copy of this package"
  CLIENTS=(llmsvc-node llmsvc-node-baseline openai-node)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/llmsvc-node-compare.XXXXXX")
EMU_PID=
cleanup() {
  [[ -n $EMU_PID ]] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

"$LLMSVC_EMULATOR" --host 127.0.0.1 --port 0 >"$WORK/emu.out" 2>"$WORK/emu.err" &
EMU_PID=$!
PORT=
for _ in $(seq 1 100); do
  if [[ $(head -n 1 "$WORK/emu.out" 2>/dev/null) =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]]; then
    PORT=${BASH_REMATCH[1]}
    break
  fi
  sleep 0.1
done
[[ -n $PORT ]] || die "the emulator did not start: $(cat "$WORK/emu.err")"

reset() {
  node -e "fetch('http://127.0.0.1:$PORT/_emulator/reset',{method:'POST'}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
}

run() { # CLIENT ROUND
  local script
  case $1 in
    llmsvc-node) script=$HERE/bench.mjs ;;
    llmsvc-node-baseline) script=$BASELINE/bench/bench.mjs ;;
    openai-node) script=$PEER_DIR/bench.mjs ;;
  esac
  reset || die "could not reset the emulator"
  echo "round $2: $1 (n=$N, concurrency=$CONCURRENCY, warmup=$WARMUP) ..." >&2
  timeout "$RUN_TIMEOUT" node "$script" --base-url "http://127.0.0.1:$PORT/v1" --n "$N" \
    --concurrency "$CONCURRENCY" --model "$MODEL" --warmup "$WARMUP" |
    sed "s/^{\"client\":\"llmsvc-node\"/{\"client\":\"$1\"/" >>"$WORK/runs.jsonl" ||
    die "$1 failed in round $2"
}

for round in $(seq 1 "$ROUNDS"); do
  order=("${CLIENTS[@]}")
  (( round % 2 )) || order=($(printf '%s\n' "${CLIENTS[@]}" | tac))
  for client in "${order[@]}"; do run "$client" "$round"; done
done

echo
echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1), Linux $(uname -r), node $(node --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- n=$N per run, concurrency=$CONCURRENCY, warmup=$WARMUP, model=$MODEL, $ROUNDS rounds alternating; medians"
echo
node - "$WORK/runs.jsonl" <<'EOF'
const fs = require('node:fs');
const runs = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const median = (xs) => { const s = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!s.length) return null; const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const f = (x, d = 1) => (x === null ? 'n/a' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const by = (c) => runs.filter((r) => r.client === c);
const rows = ['llmsvc-node', 'llmsvc-node-baseline', 'openai-node'].filter((c) => by(c).length > 0).map((c) => {
  const rs = by(c);
  return { c, v: rs[0].version, rps: median(rs.map((r) => r.requests_per_s)), cpu: median(rs.map((r) => r.cpu_us_per_request)),
    js: median(rs.map((r) => r.js_thread_cpu_us_per_request)), eng: median(rs.map((r) => r.engine_cpu_us_per_request)) };
});
console.log('| client | requests/s | client CPU µs/request | of which JS thread | of which engine thread |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.c} ${r.v} | ${f(r.rps, 0)} | ${f(r.cpu)} | ${r.js === null ? '' : f(r.js)} | ${r.eng === null ? '' : f(r.eng)} |`);
console.log();
const peer = rows[rows.length - 1];
for (const r of rows.slice(0, -1)) {
  console.log(`CPU ratio openai-node / ${r.c}: ${(peer.cpu / r.cpu).toFixed(1)}x; ` +
    `throughput ratio ${r.c} / openai-node: ${(r.rps / peer.rps).toFixed(1)}x`);
}
EOF
