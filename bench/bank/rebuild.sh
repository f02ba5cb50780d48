#!/usr/bin/env bash
# The projector alone: rebuilds the read model of a kept data set (the stores of a `run.sh` run
# with KEEP_DATA=1) with each given `bank` binary in turn, and prints the seconds until /healthz
# answers 200 (the projector caught up with the stores) and the CPU seconds of the bank's threads
# by name (/proc/PID/task/*/stat). Every binary applies the same events in the same order, so the
# CPU figures compare well even on a shared machine. Figures only: it never fails on them.
#
# usage: bench/bank/rebuild.sh DATA_DIR BANK_BIN [BANK_BIN...]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DATA_DIR BANK_BIN [BANK_BIN...]" >&2; exit 2; }
src=$1
shift
for bin in "$@"; do
  dir=$(mktemp -d "${TMPDIR:-/tmp}/bank-rebuild.XXXXXX")
  cp -r "$src/user" "$src/bank" "$src/transfer" "$dir/"
  rm -f "$dir"/*/LOCK
  "$bin" run --data "$dir" --listen 127.0.0.1:0 >"$dir.log" 2>&1 &
  pid=$!
  start=$(date +%s.%N)
  port=""
  until [ -n "$port" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$dir.log"; exit 1; }
    port=$(sed -n 's/.*http: listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$dir.log" | head -1)
    sleep 0.02
  done
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.02; done
  end=$(date +%s.%N)
  cpu=$(for t in /proc/"$pid"/task/*; do awk '{n=$2; gsub(/[()]/,"",n); print n, $14+$15}' "$t/stat"; done |
    awk '{sub(/-[0-9]+$/,"",$1); c[$1]+=$2; t+=$2}
         END {for (k in c) if (c[k] >= 5) printf " %s %.2f", k, c[k]/100; printf ", total %.2f", t/100}')
  kill -TERM "$pid"
  wait "$pid" || true
  events=$(sqlite3 "$dir/projection.db" "SELECT sum(position) FROM checkpoints WHERE store IN ('user','bank','transfer')" 2>/dev/null || echo "?")
  printf '%s: %s events in %.2f s; CPU s by thread:%s\n' "$bin" "$events" "$(echo "$end - $start" | bc)" "$cpu"
  rm -rf "$dir" "$dir.log"
done
