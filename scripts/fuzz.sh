#!/usr/bin/env bash
# Runs every libFuzzer target of a FUZZ=ON build for a short while (FUZZ_SECONDS, default 30),
# starting from and adding to its committed corpus under fuzz/NAME/corpus.
set -euo pipefail
build=${1:-build/fuzz}
seconds=${FUZZ_SECONDS:-30}
cd "$(dirname "$0")/.."
shopt -s nullglob
for target in "$build"/fuzz/*; do
  [ -f "$target" ] && [ -x "$target" ] || continue
  name=$(basename "$target")
  dir=$(dirname "$(grep -l "bank_fuzz_target(${name} " fuzz/*/CMakeLists.txt | head -1)")
  corpus="$dir/corpus"
  mkdir -p "$corpus"
  echo "fuzz: $name for ${seconds}s (corpus $corpus)"
  "$target" -max_total_time="$seconds" -max_len=65536 "$corpus"
done
