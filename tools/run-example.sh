#!/usr/bin/env bash
# The main job: installs what the build needs, builds llmsvc and its emulator, and pushes
# a batch of requests (examples/prompts.jsonl, repeated) through the library against the
# emulator, printing every result and the metrics, usage and cost summary.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/install-deps.sh
build=${BUILD_DIR:-build/release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLMSVC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target llmsvc_batch_example llmsvc_emulator
"$build/examples/llmsvc_batch_example" examples/prompts.jsonl --emulator "$build/llmsvc-emulator" "$@"
