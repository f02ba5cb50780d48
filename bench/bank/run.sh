#!/usr/bin/env bash
# The bank benchmark: builds the release `bank` if needed, starts `bank run` on a fresh data dir,
# runs the load generator (loadgen.js) against it and prints a table (latency from sending a
# money_transfer mutation to receiving its credit on stream_transactions, per rate step, with the
# CPU and RSS of the bank process). Figures only: it never fails on them.
#
# usage: bench/bank/run.sh [loadgen options, e.g. --rates 100,1000,3000 --step-seconds 10]
# env:   BANK_EXTRA_ARGS (bank run flags; default switches the per-address login limits off, as
#        the load generator logs its users in from one address), BUILD_DIR (default build, the release tree, rebuilt incrementally), BANK_BIN (a bank binary to use instead),
#        KEEP_DATA=1 keeps the data dir, BENCH_DIR=DIR puts it in DIR (default /tmp; /dev/shm
#        takes the disk out, for comparison only: not durable).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build_dir="${BUILD_DIR:-build}"
bank_bin="${BANK_BIN:-$build_dir/bin/bank}"

if [ -z "${BANK_BIN:-}" ]; then
  # Always the bank of this tree: an incremental build of the release tree (`make build`'s).
  [ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" --target bank -j2 >/dev/null
fi

data=$(mktemp -d "${BENCH_DIR:-/tmp}/bank-bench.XXXXXX")
log="$data.log"
# The load generator makes its users from one address, 20 at once: no login limits per address.
# The bank in its own session, so its own scheduling group (autogroup), as a service has: the nice
# of its background threads (docs/architecture.md, "Priorities") weighs them against its own loop,
# not against the load generator.
setsid "$bank_bin" run --data "$data" --listen 127.0.0.1:0 ${BANK_EXTRA_ARGS---login-address-burst 0 --login-address-in-progress 0} >"$log" 2>&1 &
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
node "$root/bench/bank/loadgen.js" --url "http://127.0.0.1:$port" --pid "$pid" "$@"
echo "bank after the run: RSS $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status), threads $(awk '/Threads/ {print $2}' /proc/$pid/status)"
