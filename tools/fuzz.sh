#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang and runs each for a bounded time.
#
#   tools/fuzz.sh [--update-corpus] [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 20; TARGETs default to all (names as in fuzz/CMakeLists.txt,
# without "fuzz_"). Each target reads its corpus in fuzz/corpus/<target> and writes what it
# finds to build/fuzz/corpus/<target>, never to the repository. --update-corpus then
# merges those finds into fuzz/corpus (only inputs that add coverage, minimised by
# libFuzzer's -merge=1). A crash, leak, timeout or out-of-memory fails the run (non-zero
# exit) and prints the reproducer's path. The mutations follow seed $LLMSVC_FUZZ_SEED
# (default 1), so a run in CI is repeatable and fails only on a change of the code; set it
# to 0 for a random seed when exploring.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/fuzz
all_targets=(request config openai_chat openai_responses anthropic ollama stream_decoder prices
             headers json_schema cache)

update=0
seconds=20
targets=()
for arg in "$@"; do
  case "$arg" in
    --update-corpus) update=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *[!0-9]*) targets+=("$arg") ;;
    *) seconds=$arg ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
done

# clang with libFuzzer, and what the library's sources build against; only those missing.
pkgs=(clang-14 libclang-rt-14-dev cmake ninja-build pkgconf libcurl4-openssl-dev libmimalloc-dev
      rapidjson-dev libsqlite3-dev libssl-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  echo "fuzz: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Only the fuzzers: no tests, emulator, examples, benchmarks or command-line tool. An
# option this checkout does not have is ignored.
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja --no-warn-unused-cli \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMSVC_BUILD_FUZZERS=ON -DLLMSVC_BUILD_TESTS=OFF \
  -DLLMSVC_BUILD_EMULATOR=OFF -DLLMSVC_BUILD_EXAMPLES=OFF -DLLMSVC_BUILD_BENCHMARKS=OFF \
  -DLLMSVC_BUILD_CLI=OFF >"$build.configure.log" 2>&1 || { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" --target llmsvc_fuzzers -j2 >"$build.build.log" 2>&1 ||
  { tail -50 "$build.build.log" >&2; exit 1; }

dict_of() {
  case "$1" in
    openai_chat|openai_responses|anthropic|ollama) echo providers ;;
    stream_decoder) echo stream ;;
    *) echo "$1" ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
mkdir -p "$build/logs"
failed=()
for t in "${targets[@]}"; do
  bin=$build/fuzz/fuzz_$t
  repo_corpus=$root/fuzz/corpus/$t
  scratch=$build/corpus/$t
  artifacts=$build/artifacts/$t
  log=$build/logs/$t.log
  mkdir -p "$scratch" "$artifacts" "$repo_corpus"
  rm -f "$artifacts"/*
  # New inputs go to the first directory (the scratch one); the repository's is only read.
  # The outer timeout bounds a fuzzer that would not stop by itself.
  status=0
  timeout --kill-after=10 $((seconds * 2 + 60)) "$bin" "$scratch" "$repo_corpus" \
    -dict="$root/fuzz/dicts/$(dict_of "$t").dict" -max_total_time="$seconds" \
    -seed="${LLMSVC_FUZZ_SEED:-1}" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 |
          sed -E 's/.*(cov: [0-9]+ ft: [0-9]+).*(exec\/s: [0-9]+).*/\1 \2/')
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
  if [ "$status" -ne 0 ]; then
    reproducer=$(ls -t "$artifacts"/* 2>/dev/null | head -1 || true)
    echo "fuzz_$t: FAILED (exit $status) ${stats}"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*check failed)' "$log" | head -5 | sed 's/^/  /'
    echo "  log: $log"
    echo "  reproducer: ${reproducer:-none written} (run: $bin ${reproducer:-<input>})"
    failed+=("$t")
  else
    echo "fuzz_$t: ok, ${execs:-?} runs in ${seconds}s, ${stats}, corpus $(ls "$repo_corpus" | wc -l) in repo + $(ls "$scratch" | wc -l) new"
  fi
done

if [ "$update" = 1 ]; then
  for t in "${targets[@]}"; do
    before=$(ls "$root/fuzz/corpus/$t" | wc -l)
    "$build/fuzz/fuzz_$t" -merge=1 -rss_limit_mb=2048 -timeout=10 \
      "$root/fuzz/corpus/$t" "$build/corpus/$t" >"$build/logs/$t.merge.log" 2>&1 ||
      { echo "fuzz_$t: merge failed, see $build/logs/$t.merge.log" >&2; exit 1; }
    echo "fuzz_$t: corpus $before -> $(ls "$root/fuzz/corpus/$t" | wc -l) files"
  done
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s) passed, ${seconds}s each"
