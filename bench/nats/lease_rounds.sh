#!/usr/bin/env bash
# The partition lease rounds of one idle `bank commands` on a native nats-server, for each bank
# binary given (e.g. a baseline and the current build): starts nats-server on a free loopback
# port, `bank sync`, then the command handler (under valgrind memcheck with --valgrind, where a
# slow round shows most) until it has logged three 30-s summaries of its rounds ("lease rounds in
# the last 30 s: ..."), prints its partition log lines, stops everything and deletes the temp dir.
# Figures only: it never fails on them. About 2 minutes per binary.
#
# usage: bench/nats/lease_rounds.sh [--valgrind] BANK_BIN...
#        (each BANK_BIN must sit under a source tree: `bank sync` finds schemas/ beside it)
set -u
prefix=()
if [ "${1:-}" = --valgrind ]; then
  prefix=(valgrind -q)
  shift
fi
[ $# -ge 1 ] || { echo "usage: $0 [--valgrind] BANK_BIN..." >&2; exit 2; }
nats=$(command -v nats-server || echo /usr/sbin/nats-server)
for bin in "$@"; do
  d=$(mktemp -d "${TMPDIR:-/tmp}/lease-rounds.XXXXXX")
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$nats" -a 127.0.0.1 -p "$port" -js -sd "$d/js" >"$d/nats.log" 2>&1 &
  npid=$!
  for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  "$bin" sync --nats "nats://127.0.0.1:$port" >"$d/sync.log" 2>&1 || { echo "bank sync failed:"; cat "$d/sync.log"; }
  # The JetStream adapter's time-outs scaled for valgrind, as scripts/valgrind-check.sh does.
  BANK_NATS_INDEX_DIR="$d/idx" BANK_NATS_PUBLISH_WAIT_MS=10000 BANK_NATS_APPEND_TIMEOUT_MS=60000 \
    "${prefix[@]}" "$bin" commands --bus "nats://127.0.0.1:$port" --store "nats://127.0.0.1:$port" \
    --data "$d/data" >"$d/commands.log" 2>&1 &
  cpid=$!
  for _ in $(seq 1 300); do
    [ "$(grep -c 'lease rounds in the last' "$d/commands.log")" -ge 3 ] && break
    kill -0 "$cpid" 2>/dev/null || break
    sleep 1
  done
  echo "== $bin${prefix[*]:+ under ${prefix[*]}}"
  grep -E 'partitions:' "$d/commands.log"
  kill -TERM "$cpid" 2>/dev/null
  wait "$cpid"
  kill -TERM "$npid"
  wait "$npid"
  rm -rf "$d"
done
