#!/usr/bin/env bash
# Where the split roles' CPU goes, by thread: starts nats-server, `bank sync`, then `bank
# commands`, `bank projector` and `bank api` (one each) on free loopback ports in a temp dir, runs
# bench/bank/loadgen.js at RATE transfers/s for 30 s and, from its 15th second, measures each
# process's threads for 8 s (bench/nats/thread_cpu.py); then stops everything and deletes the
# temp dir. Figures only: it never fails on them. About 40 s per binary.
#
# usage: bench/nats/threads.sh RATE BANK_BIN...
#        (each BANK_BIN must sit under a source tree: `bank sync` finds schemas/ beside it)
set -u
[ $# -ge 2 ] || { echo "usage: $0 RATE BANK_BIN..." >&2; exit 2; }
rate=$1
shift
cd "$(dirname "$0")/../.."
nats=$(command -v nats-server || echo /usr/sbin/nats-server)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for bin in "$@"; do
  echo "== $bin at $rate/s"
  d=$(mktemp -d "${TMPDIR:-/tmp}/bank-threads.XXXXXX")
  port=$(free_port)
  printf 'listen: 127.0.0.1:%s\njetstream { store_dir: "%s/js"\n  max_memory_store: 256MB\n  max_file_store: 4GB }\n' \
    "$port" "$d" >"$d/nats.conf"
  "$nats" -c "$d/nats.conf" >"$d/nats.log" 2>&1 &
  p_nats=$!
  sleep 1
  url=nats://127.0.0.1:$port
  "$bin" sync --nats "$url" >"$d/sync.log" 2>&1
  export BANK_PWHASH_FAST=1 BANK_LOGIN_ADDRESS_BURST=0 BANK_LOGIN_ADDRESS_IN_PROGRESS=0
  for role in commands projector; do
    mkdir -p "$d/$role"
    BANK_NATS_INDEX_DIR=$d/$role/index "$bin" $role --bus "$url" --store "$url" --data "$d/$role" \
      >"$d/$role.log" 2>&1 &
    eval "p_$role=\$!"
  done
  api_port=$(free_port)
  mkdir -p "$d/api"
  "$bin" api --bus "$url" --data "$d/api" --listen "127.0.0.1:$api_port" >"$d/api.log" 2>&1 &
  p_api=$!
  sleep 3
  node bench/bank/loadgen.js --url "http://127.0.0.1:$api_port" --rates "$rate" --step-seconds 30 \
    --users 100 >"$d/load.log" 2>&1 &
  p_load=$!
  sleep 15
  python3 bench/nats/thread_cpu.py 8 \
    "commands=$p_commands,projector=$p_projector,api=$p_api,nats-server=$p_nats"
  wait $p_load
  grep -E '^target|^ +[0-9]' "$d/load.log"
  kill $p_api $p_commands $p_projector 2>/dev/null
  sleep 1
  kill $p_nats 2>/dev/null
  wait 2>/dev/null
  rm -rf "$d"
done
