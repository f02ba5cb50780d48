#!/usr/bin/env bash
# The attacks of issue 11 against `bank run` (release build), with what a legitimate user sees
# meanwhile; see attacks.js. Prints figures, never fails on them.
# usage: bench/http/attacks.sh [attack ...]
# env:   ATTACK_SCALE=0.1 ATTACK_SECONDS=5 for a quick run (default: the issue's sizes, 20 s each),
#        BUILD_DIR (default build), BANK_ARGS (extra `bank run` flags)
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir="${BUILD_DIR:-build}"
[ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" --target bank -j2 >/dev/null
# 20,200 client sockets here, and as many server connections as the budget admits.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), ulimit -n $(ulimit -n)"
exec node bench/http/attacks.js "$build_dir/bin/bank" "$@"
