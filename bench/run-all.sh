#!/usr/bin/env bash
# Runs every benchmark program of the release build (build/bin/bench_*), then every scripted
# benchmark (bench/*/run.sh: HTTP against graphql-js, the bank's transfer load, time travel on a
# 100,000-event account, the NATS roles), one after the other.
# Benchmarks print figures and never fail on time; a benchmark that crashes makes this exit non-zero.
# BIN_DIR overrides where the programs are looked for; extra arguments go to every program.
set -uo pipefail
cd "$(dirname "$0")/.."
bin_dir="${BIN_DIR:-build/bin}"
shopt -s nullglob
benches=("$bin_dir"/bench_*)
if ((${#benches[@]} == 0)); then
  echo "run-all: no benchmark programs in $bin_dir (run 'make build' first)" >&2
  exit 1
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
rc=0
for b in "${benches[@]}"; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" "$@" || { echo "run-all: $(basename "$b") exited with status $?" >&2; rc=1; }
done
for script in bench/*/run.sh; do
  echo "== $script"
  "$script" || { echo "run-all: $script exited with status $?" >&2; rc=1; }
done
exit $rc
