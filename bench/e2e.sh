#!/usr/bin/env bash
# Side-by-side load comparison: llmsvc against the official `openai` npm
# package, both talking to one local llmsvc-emulator.
#
#   bench/e2e.sh [N] [CONCURRENCY]          (defaults 5000 and 32)
#
# Each client sends N Chat Completions requests (after WARMUP unmeasured ones)
# with CONCURRENCY in flight. The clients run in alternating order, ROUNDS
# times each (llmsvc first in odd rounds, openai-node first in even rounds), so
# order effects cancel out. The summary reports each client's median.
#
# Environment:
#   BUILD_DIR      build directory, relative to the repo root (default: build)
#   WARMUP         unmeasured requests before each run (default: 200)
#   ROUNDS         rounds of both clients (default: 2)
#   RUN_TIMEOUT    seconds allowed for each single run (default: 300)
#   MODEL          model name sent (default: gpt-4o-mini)
#
# The emulator runs without limits or faults and is stopped on exit. Its
# counters and prompt caches are reset before every run so that each client
# sees the same server state. Client and emulator share the machine's cores;
# "client CPU" is the CPU time (user + system) of the client process alone.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

N=${1:-5000}
CONCURRENCY=${2:-32}
BUILD_DIR=${BUILD_DIR:-build}
WARMUP=${WARMUP:-200}
ROUNDS=${ROUNDS:-2}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
MODEL=${MODEL:-gpt-4o-mini}

die() { echo "e2e.sh: $*" >&2; exit 1; }

for v in N CONCURRENCY WARMUP ROUNDS RUN_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
(( N > 0 )) || die "N must be at least 1"
(( CONCURRENCY > 0 )) || die "CONCURRENCY must be at least 1"
(( ROUNDS > 0 )) || die "ROUNDS must be at least 1"

case $BUILD_DIR in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
EMULATOR="$BUILD_DIR/llmsvc-emulator"
LOAD="$BUILD_DIR/bench/llmsvc_load"
PEER_DIR="$ROOT/bench/peers/openai-node"

[[ -x $EMULATOR ]] || die "$EMULATOR not found; build the project first:
  cmake -S . -B build -DLLMSVC_BUILD_BENCHMARKS=ON && cmake --build build"
[[ -x $LOAD ]] || die "$LOAD not found; build it with:
  cmake -S . -B build -DLLMSVC_BUILD_BENCHMARKS=ON && cmake --build build"
command -v node >/dev/null || die "node is required (for the openai-node peer)"
command -v npm >/dev/null || die "npm is required (for the openai-node peer)"
command -v timeout >/dev/null || die "timeout (coreutils) is required"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/llmsvc-e2e.XXXXXX")
EMU_PID=
CHILD_PID=

cleanup() {
  if [[ -n $CHILD_PID ]]; then
    # timeout(1) passes the signal on to the process group of its command.
    kill -TERM "$CHILD_PID" 2>/dev/null || true
    wait "$CHILD_PID" 2>/dev/null || true
    CHILD_PID=
  fi
  if [[ -n $EMU_PID ]]; then
    kill "$EMU_PID" 2>/dev/null || true
    wait "$EMU_PID" 2>/dev/null || true
    EMU_PID=
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command under timeout(1) in the background and waits for it, so that
# an interrupt reaches the traps at once instead of after the run.
run_bounded() { # STDOUT_FILE STDERR_FILE COMMAND...
  local out=$1 err=$2 rc=0
  shift 2
  timeout "$RUN_TIMEOUT" "$@" >"$out" 2>"$err" &
  CHILD_PID=$!
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=
  return "$rc"
}

if [[ ! -d $PEER_DIR/node_modules/openai ]]; then
  echo "installing the openai-node peer (npm ci) ..." >&2
  if ! run_bounded /dev/null "$WORK/npm.err" npm ci --silent --prefix "$PEER_DIR"; then
    cat "$WORK/npm.err" >&2
    die "npm ci failed in $PEER_DIR"
  fi
fi

# --- emulator ---------------------------------------------------------------

"$EMULATOR" --host 127.0.0.1 --port 0 >"$WORK/emulator.out" 2>"$WORK/emulator.err" &
EMU_PID=$!

PORT=
for _ in $(seq 1 100); do
  if line=$(head -n 1 "$WORK/emulator.out" 2>/dev/null) && [[ $line =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]]; then
    PORT=${BASH_REMATCH[1]}
    break
  fi
  kill -0 "$EMU_PID" 2>/dev/null || break
  sleep 0.1
done
[[ -n $PORT ]] || die "the emulator did not start: $(cat "$WORK/emulator.err")"
HOST_URL="http://127.0.0.1:$PORT"
BASE_URL="$HOST_URL/v1"

# Small HTTP helper against the emulator's control endpoints (node's fetch, so
# that curl is not required).
emu_http() { # METHOD PATH
  timeout 10 node -e '
    const [method, url] = process.argv.slice(1);
    fetch(url, { method }).then(async (r) => {
      const body = await r.text();
      if (!r.ok) { console.error(`${method} ${url}: ${r.status}`); process.exit(1); }
      process.stdout.write(body);
    }).catch((e) => { console.error(String(e)); process.exit(1); });
  ' "$1" "$HOST_URL$2"
}

# --- runs -------------------------------------------------------------------

run_client() { # CLIENT ROUND
  local client=$1 round=$2 out="$WORK/$1.$2.json" err="$WORK/$1.$2.err" rc=0
  emu_http POST /_emulator/reset >/dev/null || die "could not reset the emulator"
  echo "round $round: $client (n=$N, concurrency=$CONCURRENCY, warmup=$WARMUP) ..." >&2
  local cmd
  case $client in
    llmsvc) cmd=("$LOAD") ;;
    openai-node) cmd=(node "$PEER_DIR/bench.mjs") ;;
  esac
  run_bounded "$out" "$err" "${cmd[@]}" --base-url "$BASE_URL" --n "$N" \
    --concurrency "$CONCURRENCY" --model "$MODEL" --warmup "$WARMUP" || rc=$?
  if (( rc != 0 )); then
    (( rc == 124 )) && echo "e2e.sh: $client timed out after ${RUN_TIMEOUT}s" >&2
    echo "e2e.sh: $client failed (exit $rc); stdout:" >&2
    cat "$out" >&2
    echo "stderr:" >&2
    tail -n 20 "$err" >&2
    exit 1
  fi
  emu_http GET /_emulator/stats >"$WORK/$client.$round.stats.json" ||
    die "could not read the emulator's statistics"
  echo "$client $round $out $WORK/$client.$round.stats.json" >>"$WORK/runs"
}

for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 == 1 )); then
    run_client llmsvc "$round"
    run_client openai-node "$round"
  else
    run_client openai-node "$round"
    run_client llmsvc "$round"
  fi
done

# --- report -----------------------------------------------------------------

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)

echo
echo "## llmsvc vs openai-node against llmsvc-emulator"
echo
echo "- machine: $(nproc) CPUs, ${CPU_MODEL:-unknown CPU}, Linux $(uname -r)"
echo "- node $(node --version)"
echo "- n=$N per run, concurrency=$CONCURRENCY, warmup=$WARMUP, model=$MODEL, $ROUNDS round(s), order alternating (llmsvc first in odd rounds)"
echo "- the emulator shares the machine with the client; client CPU is the client process only (user+system)"
echo

node - "$WORK/runs" "$N" "$WARMUP" <<'EOF'
const fs = require('node:fs');
const [runsFile, nArg, warmupArg] = process.argv.slice(2);
const expected = Number(nArg) + Number(warmupArg);

const runs = fs.readFileSync(runsFile, 'utf8').trim().split('\n').map((line) => {
  const [client, round, out, statsFile] = line.split(' ');
  const text = fs.readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).pop() || '';
  let r;
  try { r = JSON.parse(text); } catch { throw new Error(`${client} round ${round}: not JSON: ${text}`); }
  const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
  let received = 0, ok = 0;
  for (const k of Object.values(stats.keys || {})) { received += k.received || 0; ok += k.ok || 0; }
  return { client, round: Number(round), r, received, ok };
});

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

console.log('### Runs');
console.log();
console.log('| round | client | version | ok/requests | wall s | requests/s | client CPU µs/request | emulator received (ok) |');
console.log('|---:|---|---|---:|---:|---:|---:|---:|');
for (const { client, round, r, received, ok } of runs) {
  const note = received === expected ? '' : ` ≠ ${expected}`;
  console.log(`| ${round} | ${client} | ${r.version ?? '?'} | ${r.ok}/${r.requests} | ${f(r.wall_s, 3)} | ` +
    `${f(r.requests_per_s, 1)} | ${f(r.cpu_us_per_request, 1)} | ${received} (${ok})${note} |`);
}

const clients = ['llmsvc', 'openai-node'];
const summary = {};
for (const c of clients) {
  const rs = runs.filter((x) => x.client === c).map((x) => x.r);
  summary[c] = {
    version: rs[0]?.version ?? '?',
    rps: median(rs.map((r) => r.requests_per_s)),
    cpu: median(rs.map((r) => r.cpu_us_per_request)),
    rounds: rs.length,
  };
}
const base = summary.llmsvc.cpu;

console.log();
console.log(`### Summary (median of ${summary.llmsvc.rounds} run(s) per client)`);
console.log();
console.log('| client | requests/s | client CPU µs/request | CPU ratio (openai-node / llmsvc) |');
console.log('|---|---:|---:|---:|');
for (const c of clients) {
  const s = summary[c];
  const ratio = c === 'llmsvc' ? '1.00' : f(s.cpu / base, 2);
  console.log(`| ${c} ${s.version} | ${f(s.rps, 1)} | ${f(s.cpu, 1)} | ${ratio} |`);
}
EOF
