#!/usr/bin/env bash
# HTTP transport benchmark (prints figures, never fails on them):
#  1. `{ hello }` over HTTP POST with wrk (2 threads, 50 connections, 5 s) against our server with
#     the GraphQL engine (gql_test_server), against graphql-js (node, graphql-http handler, same
#     SDL, trivial root value) started here, and the ratio; plus the transport alone
#     (http_test_server, a trivial test executor) for reference;
#  2. subscription fan-out: 1,000 WebSocket subscribers, publish -> last delivery.
# The attacks of issue 11 against the bank are bench/http/attacks.sh (minutes at full size).
# Usage: bench/http/run.sh [BUILD_DIR]   (default: build, the release build of `make build`)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-${BUILD_DIR:-$root/build}}"
here="$root/bench/http"
DURATION="${DURATION:-5s}"
SUBSCRIBERS="${SUBSCRIBERS:-1000}"
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true

cmake --build "$build" --target gql_test_server http_test_server http_fanout_client -j2 >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start NAME CMD...: runs CMD, waits for "LISTENING <port>", sets $port.
start() {
  local out
  out="$(mktemp)"
  "$@" >"$out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 1 100); do
    port="$(awk '/LISTENING/ {print $2}' "$out")"
    [ -n "$port" ] && break
    sleep 0.1
  done
  rm -f "$out"
  [ -n "$port" ] || { echo "server did not start: $*" >&2; exit 1; }
}

# bench LABEL URL: one warm-up second, then the measured run; prints req/s and latency.
bench() {
  local label="$1" url="$2" out
  wrk -t2 -c50 -d1s -s "$here/post.lua" "$url" >/dev/null
  out="$(wrk -t2 -c50 -d"$DURATION" --latency -s "$here/post.lua" "$url")"
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  local avg p50 p99 errs
  avg="$(awk '/^    Latency/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  errs="$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ' || true)"
  printf '%-34s %10s req/s  latency avg %-8s p50 %-8s p99 %-8s %s\n' "$label" "$rps" "$avg" "$p50" "$p99" "$errs"
}

echo "== HTTP: POST {\"query\":\"{ hello }\"}, wrk -t2 -c50 -d$DURATION ($(nproc) cores) =="
# The fan-out below opens all its subscribers from 127.0.0.1: above the default per-address share.
start "$build/bin/gql_test_server" --max-connections-per-address 100000
ours_port=$port
bench "C transport + GraphQL engine" "http://127.0.0.1:$ours_port/api"
ours=$rps
start node "$here/graphql_js_server.js"
js_port=$port
bench "graphql-js (node, graphql-http)" "http://127.0.0.1:$js_port/graphql"
js=$rps
kill "${pids[-1]}" 2>/dev/null || true
start "$build/bin/http_test_server"
bench "C transport + trivial test executor" "http://127.0.0.1:$port/api"
kill "${pids[-1]}" 2>/dev/null || true
awk -v a="$ours" -v b="$js" 'BEGIN { if (b > 0) printf "ratio engine-backed / graphql-js: %.1fx\n", a / b }'

echo "== WebSocket fan-out: $SUBSCRIBERS subscribers (graphql-transport-ws), engine-backed server =="
"$build/bin/http_fanout_client" 127.0.0.1 "$ours_port" "$SUBSCRIBERS" 30
