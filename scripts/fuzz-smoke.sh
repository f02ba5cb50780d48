#!/usr/bin/env bash
# The short fuzz run of the test suite: configures a clang FUZZ=ON tree in DIR (default
# build/fuzz), builds only the fuzz targets, and runs each for FUZZ_SECONDS (default 15) from its
# committed corpus (new inputs go to a scratch folder, so the run leaves the tree unchanged).
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${1:-build/fuzz}
seconds=${FUZZ_SECONDS:-15}
cmake -S . -B "$tree" -DCMAKE_C_COMPILER=clang -DFUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$tree" --target fuzz_all -j"$(nproc)" >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0 passed=0
for target in "$tree"/fuzz/*; do
  [ -f "$target" ] && [ -x "$target" ] || continue
  name=$(basename "$target")
  # The corpus beside the CMakeLists.txt that declares the target.
  dir=$(dirname "$(grep -l "bank_fuzz_target(${name} " fuzz/*/CMakeLists.txt | head -1)")
  corpus="$dir/corpus"
  [ -d "$corpus" ] || corpus=""
  mkdir -p "$scratch/$name"
  if "$target" -max_total_time="$seconds" -max_len=65536 "$scratch/$name" ${corpus:+"$corpus"} \
       >"$scratch/$name.log" 2>&1; then
    echo "fuzz: $name ok ($(grep -o 'Done [0-9]* runs in [0-9]* second' "$scratch/$name.log" | tail -1)s)"
    passed=$((passed + 1))
  else
    echo "fuzz: $name FAILED"; tail -40 "$scratch/$name.log"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
