#!/usr/bin/env bash
# Where a request waits under overload: `bank run` at 3,000/s for 10 s, then RATE/s (default
# 8,000, twice what it sustains here) for 10 s, with the busy answers counted (loadgen.js
# --keep-going). During the second step it samples the bytes waiting in the sockets (Recv-Q on
# the bank's side: requests the loop has not read yet; on the client's: answers the load
# generator has not read) and each thread's CPU and run-queue wait (/proc/PID/task/*/schedstat:
# the time a thread was ready to run but had no CPU) over 7 s, and runs probe.js beside the load
# generator for 6 s: a light client's answer times (busy answers, a trivial query) with its own
# event-loop lag, apart from the load generator's, and the bank's own loop lag from /metrics
# (http_loop_lag_seconds) over the 7 s. Figures only: it never fails on them.
#
# usage: bench/bank/overload_probe.sh [BANK_BIN ...]   (default build/bin/bank; several binaries
#        run one after the other, for a comparison in one invocation)
# env:   RATE (default 8000), BANK_EXTRA_ARGS (more `bank run` flags), PROBE_PREFIX (the command
#        the probe runs under; default `chrt -f 1` where allowed (root): a light client at a
#        real-time priority, whose clock the load cannot stall; "" for the usual priority)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rate=${RATE:-8000}
if [ -z "${PROBE_PREFIX+set}" ]; then
  PROBE_PREFIX=""
  chrt -f 1 true 2>/dev/null && PROBE_PREFIX="chrt -f 1"
fi
echo "the probe runs under: ${PROBE_PREFIX:-the usual priority}"
[ $# -gt 0 ] || set -- build/bin/bank

probe() {
  local bin=$1 data log pid port lg pr
  data=$(mktemp -d /tmp/overload-probe.XXXXXX)
  log=$data.log
  # Its own session, so its own scheduling group (autogroup), as a service has: the nice of its
  # background threads then weighs them against its own loop, not against the load generator.
  setsid "$bin" run --data "$data" --listen 127.0.0.1:0 --login-address-burst 0 \
    --login-address-in-progress 0 ${BANK_EXTRA_ARGS:-} >"$log" 2>&1 &
  pid=$!
  trap "kill -TERM $pid 2>/dev/null; rm -rf $data $log $data.*" RETURN
  port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/.*http: listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$log"; return 1; }
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
  echo "== $bin (pid $pid), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  node "$root/bench/bank/loadgen.js" --url "http://127.0.0.1:$port" --pid "$pid" \
    --rates "3000,$rate" --step-seconds 10 --keep-going >"$data.out" 2>&1 &
  lg=$!
  until grep -q target "$data.out"; do kill -0 $lg 2>/dev/null || break; sleep 0.2; done
  # A light client of its own (probe.js): set up during the first step, measuring 2-8 s into the
  # second: the bank's answers without the load generator's own lag.
  $PROBE_PREFIX node "$root/bench/bank/probe.js" --url "http://127.0.0.1:$port" --wait-ms 12000 --seconds 6 >"$data.probe" 2>&1 &
  pr=$!
  sleep 12 # into the second step
  # The loop lag's buckets; none from a bank built before the metric (a comparison with an older
  # binary must not stop the script, which runs under pipefail).
  lag_buckets() { curl -s "http://127.0.0.1:$port/metrics" | grep '^http_loop_lag_seconds_bucket' || true; }
  threads() { for t in /proc/$pid/task/*; do echo "$(basename "$t") $(cat "$t/comm") $(awk '{print $14+$15}' "$t/stat") $(cat "$t/schedstat")"; done | sort; }
  threads >"$data.t0"
  lag_buckets >"$data.lag0"
  for _ in 1 2 3; do
    ss -tn "( sport = :$port )" | awk 'NR>1{r+=$2; n++} END{printf "bank sockets %d: unread requests %d bytes", n, r}'
    ss -tn "( dport = :$port )" | awk 'NR>1{r+=$2} END{printf "; client: unread answers %d bytes\n", r}'
    sleep 0.3
  done >"$data.ss"
  sleep 6
  threads >"$data.t1"
  lag_buckets >"$data.lag1"
  wait $lg || true
  wait $pr || true
  grep -v "^  lost samples" "$data.out"
  cat "$data.probe"
  cat "$data.ss"
  # The bank's own view (http_loop_lag_seconds, sampled every 10 ms): the bucket bound under which
  # half, 99% and all of the step's samples fell.
  if [ ! -s "$data.lag1" ]; then
    echo "the loop lag: no http_loop_lag_seconds in this bank's /metrics"
  else paste "$data.lag0" "$data.lag1" | awk '{ match($1, /le="[^"]*"/); le = substr($1, RSTART + 4, RLENGTH - 5);
      b[NR] = le; c[NR] = $4 - $2 } END { n = c[NR];
      for (i = 1; i <= NR; i++) { if (!p50 && c[i] >= n * 0.5) p50 = b[i]; if (!p99 && c[i] >= n * 0.99) p99 = b[i]; if (!all && c[i] >= n) all = b[i] }
      printf "the loop lag over 7 s (%d samples): half <= %s s, 99%% <= %s s, all <= %s s\n", n, p50, p99, all }'
  fi
  echo "threads over 7 s of the second step (CPU, time ready but waiting for a CPU, in % of 7 s):"
  join "$data.t0" "$data.t1" | awk '{printf "  %-16s CPU %4.0f%%  run-queue wait %4.0f%%\n", $2, ($8-$3)/7, ($10-$5)/7e7}' |
    sort -k3 -n -r | head -8
}

for b in "$@"; do probe "$b"; done
