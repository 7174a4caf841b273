#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (AddressSanitizer and UBSan) and runs them.
#
#   tools/fuzz.sh --replay [TARGET...]                    every input of fuzz/corpus once
#   tools/fuzz.sh --explore MINUTES [--update-corpus] [TARGET...]
#
# --replay (the test command's step) runs each target over its corpus in fuzz/corpus/<target>
# — real-shaped seeds and every input that once crashed — and nothing else: deterministic, so
# it fails only for a reason in the code or the corpus, never for the speed of the machine.
# --explore shares MINUTES among the targets and mutates from random seeds, looking for new
# findings; what it finds goes to build/fuzz/corpus/<target> and build/fuzz/artifacts/<target>,
# never to the repository. --update-corpus then merges the new inputs that add coverage into
# fuzz/corpus (libFuzzer's -merge=1). A finding is fixed, and its reproducer added to
# fuzz/corpus/<target>, in the same change. TARGETs default to all (names as in
# fuzz/CMakeLists.txt, without "fuzz_"). A crash, leak, timeout or out-of-memory fails the run
# (non-zero exit) and prints the reproducer's path. LLMSVC_FUZZ_SEED fixes the seed of an
# exploring run (to repeat one).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/fuzz
all_targets=(request config config_file openai_chat openai_responses anthropic ollama gemini bedrock stream_decoder prices
             headers json_schema cache)

mode=""
minutes=0
update=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --replay) mode=replay ;;
    --explore)
      mode=explore
      minutes=${2:-}
      [[ "$minutes" =~ ^[0-9]+$ && "$minutes" -gt 0 ]] ||
        { echo "fuzz: --explore needs a whole number of minutes" >&2; exit 2; }
      shift ;;
    --update-corpus) update=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ -n "$mode" ] || { echo "fuzz: say --replay or --explore MINUTES (see --help)" >&2; exit 2; }
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
done
# An exploring run's share of the time per target, in seconds.
seconds=$(( minutes * 60 / ${#targets[@]} ))
[ "$mode" = replay ] || [ "$seconds" -gt 0 ] || seconds=1

# clang with libFuzzer, and what the library's sources build against; only those missing.
pkgs=(clang-14 libclang-rt-14-dev cmake ninja-build pkgconf libcurl4-openssl-dev libmimalloc-dev
      rapidjson-dev libsqlite3-dev libssl-dev libre2-dev libyaml-cpp-dev)
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
    openai_chat|openai_responses|anthropic|ollama|gemini|bedrock) echo providers ;;
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
  status=0
  if [ "$mode" = replay ]; then
    # Each input once (-runs=0 runs the corpus and stops); the outer timeout bounds a hang.
    timeout --kill-after=10 600 "$bin" "$repo_corpus" -runs=0 \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  else
    # New inputs go to the first directory (the scratch one); the repository's is only read.
    timeout --kill-after=10 $((seconds * 2 + 60)) "$bin" "$scratch" "$repo_corpus" \
      -dict="$root/fuzz/dicts/$(dict_of "$t").dict" -max_total_time="$seconds" \
      -seed="${LLMSVC_FUZZ_SEED:-0}" \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  fi
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
    if [ "$mode" = replay ]; then
      echo "fuzz_$t: ok, the $(ls "$repo_corpus" | wc -l) inputs of fuzz/corpus/$t (${execs:-?} runs)"
    else
      echo "fuzz_$t: ok, ${execs:-?} runs in ${seconds}s, ${stats}, corpus $(ls "$repo_corpus" | wc -l) in repo + $(ls "$scratch" | wc -l) new"
    fi
  fi
done

if [ "$update" = 1 ] && [ "$mode" = explore ]; then
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
  [ "$mode" = replay ] || echo "fuzz: new findings: fix each, and add its reproducer to fuzz/corpus/<target> in the same change"
  exit 1
fi
if [ "$mode" = replay ]; then
  echo "fuzz: ${#targets[@]} target(s) replayed their corpus, no finding"
else
  echo "fuzz: ${#targets[@]} target(s) explored ${seconds}s each, no new finding"
fi
