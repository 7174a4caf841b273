#!/usr/bin/env bash
# The main job: installs what the build needs, builds the llmsvc tool and its emulator, and
# runs a batch of requests (examples/prompts.jsonl) through the library with
# `llmsvc run`, then shows the results file. With no API key configured (OPENAI_API_KEY)
# the tool runs against the local emulator; the answers are then synthetic.
# Extra arguments go to `llmsvc run` (for example --rpm 60 or --config examples/llmsvc.json).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/install-deps.sh
build=${BUILD_DIR:-build/release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLMSVC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target llmsvc_cli llmsvc_emulator
out="$build/out.jsonl"
rm -f "$out"  # a fresh run; keep the file to see `llmsvc run` resume instead
status=0
"$build/llmsvc" run examples/prompts.jsonl -o "$out" "$@" || status=$?
echo
echo "== $out"
cat "$out"
exit "$status"
