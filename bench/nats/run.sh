#!/usr/bin/env bash
# The scale-out benchmark of the bank on NATS JetStream (see "Scale-out on NATS" in
# docs/benchmarks.md): builds the release tree if needed, then runs bench/nats/scaleout.js, which
# starts, measures and stops in turn
#   a) one nats-server with 1 api, 1 commands, 1 projector (separate `bank` processes),
#   b) the same with 2 command handlers (scaling figure b/a, from the same invocation; a and b
#      alternate twice, a1 b1 a2 b2, as the machine is noisy),
#   c) a 3-node nats-server cluster on loopback with R3 streams (`bank sync`), 1/1/1 roles,
#   d) one nats-server with 4 command handlers (only with --only ...,d),
#   e) one nats-server with 2 APIs, 1 command handler and 2 projectors (only with --only ...,e:
#      each subscriber must get each transaction once),
# with the stepped-rate transfer workload of bench/bank (bench/bank/loadgen.js, reporting CPU and
# RSS per process). Everything on loopback, in temp dirs deleted at the end; ~6-9 minutes.
# Figures only: it never fails on them.
#
# usage: bench/nats/run.sh [--rates 100,200,... --step-seconds 8 --only a,b,c,d,e --repeat 2 --perf 0|1 --users 100
#                          --hot 0..1]  (--hot 1: every transfer pays the company account)
# env:   BUILD_DIR (default build, the shared RelWithDebInfo tree), BANK_BIN (a bank binary to use)
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir="${BUILD_DIR:-build}"
bank_bin="${BANK_BIN:-$build_dir/bin/bank}"

if [ -z "${BANK_BIN:-}" ]; then
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  # Brings `bank` up to date; when the tree does not build right now (someone's half-written file),
  # an existing binary is used as it is.
  if ! cmake --build "$build_dir" --target bank -j2 >/tmp/bank-nats-bench-build.$$.log 2>&1; then
    if [ -x "$bank_bin" ]; then
      echo "note: the build of $bank_bin failed; using the existing binary ($(date -r "$bank_bin" -u +%FT%TZ))"
    else
      cat /tmp/bank-nats-bench-build.$$.log
      rm -f /tmp/bank-nats-bench-build.$$.log
      exit 1
    fi
  fi
  rm -f /tmp/bank-nats-bench-build.$$.log
fi
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || {
  echo "nats-server not found: scripts/install-deps.sh installs it"
  exit 1
}
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%FT%TZ)"
exec node bench/nats/scaleout.js --bank "$bank_bin" "$@"
