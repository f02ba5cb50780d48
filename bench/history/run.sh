#!/usr/bin/env bash
# The time-travel benchmark of issue 15: builds the release `bank` if needed, starts `bank run` on
# a fresh data dir, and runs timetravel.js against it: one account with 100,000 events made
# through the GraphQL API, then the latency of account(at) and transactions_by_iban(at) early,
# middle and late in its history against the live queries. Figures only: it never fails on them.
#
# usage: bench/history/run.sh [timetravel.js options, e.g. --events 100000 --rounds 300]
# env:   BUILD_DIR (default build, the release tree, rebuilt incrementally), BANK_BIN (a bank
#        binary to use instead), KEEP_DATA=1 keeps the data dir, BENCH_DIR=DIR puts it in DIR
#        (default /tmp).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build_dir="${BUILD_DIR:-build}"
bank_bin="${BANK_BIN:-$build_dir/bin/bank}"

if [ -z "${BANK_BIN:-}" ]; then
  [ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" --target bank -j2 >/dev/null
fi

data=$(mktemp -d "${BENCH_DIR:-/tmp}/history-bench.XXXXXX")
log="$data.log"
"$bank_bin" run --data "$data" --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
cleanup() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || echo "bank exited with status $?"
  fi
  [ "${KEEP_DATA:-0}" = 1 ] || rm -rf "$data" "$log"
}
trap cleanup EXIT

port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*http: listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -1)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.05
done
[ -n "$port" ] || { echo "bank did not start"; cat "$log"; exit 1; }
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bank: $bank_bin (pid $pid), data $data"
node "$root/bench/history/timetravel.js" --url "http://127.0.0.1:$port" "$@"
echo "bank after the run: RSS $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status), data dir $(du -sh "$data" | cut -f1)"
