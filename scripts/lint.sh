#!/usr/bin/env bash
# House-style check: clang-format (dry run) and cppcheck over our own C sources, and the layers
# (scripts/check-layers.py: no include that docs/architecture.md's Layers table does not allow).
# --fix rewrites the files with clang-format instead of checking.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -v -E '^(build|web|tests/node_modules)/' | grep -v '\.pb-c\.')
[ ${#files[@]} -gt 0 ] || exit 0
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
python3 scripts/check-layers.py
clang-format --dry-run -Werror "${files[@]}"
cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
  --suppress=missingIncludeSystem --std=c11 -D_GNU_SOURCE -Isrc \
  --library=scripts/cppcheck/jansson.cfg "${files[@]}"
echo "lint: ${#files[@]} files clean"
