#!/usr/bin/env bash
# The command path's cases (issue 13) against `bank run`, each on a fresh bank through run.sh:
#   random    the ladder of transfers between random users (--rates, default 1000..6000/s)
#   hot       every transfer pays one account, the company's NL66OPEN0000000000 (--hot-rates)
#   overload  one step at twice --capacity for 10 s (--keep-going: busy answers are expected)
#   workers   the random ladder with --workers 1, 2, 4, 8 and 16 command handler threads
# Figures only: it never fails on them. Every bank prints the machine's load average first.
#
# usage: bench/bank/cases.sh [--only random,hot,overload,workers] [--rates 1000,2000,...]
#                            [--hot-rates 1000,2000,...] [--capacity N] [--step-seconds 10]
# env:   as run.sh (BANK_BIN, BENCH_DIR, ...); BANK_EXTRA_ARGS is added to the login flags.
set -euo pipefail
cd "$(dirname "$0")/../.."
only=random,hot,overload,workers
rates=1000,2000,3000,4000,5000,6000
hot_rates=1000,2000,3000,4000,5000
capacity=3000
step=10
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --hot-rates) hot_rates=$2; shift 2 ;;
    --capacity) capacity=$2; shift 2 ;;
    --step-seconds) step=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
login="--login-address-burst 0 --login-address-in-progress 0"
extra="${BANK_EXTRA_ARGS:-}"
has() { [[ ",$only," == *",$1,"* ]]; }

if has random; then
  echo "== random: transfers between random users"
  BANK_EXTRA_ARGS="$login $extra" bench/bank/run.sh --rates "$rates" --step-seconds "$step"
fi
if has hot; then
  echo "== hot: every transfer pays NL66OPEN0000000000"
  BANK_EXTRA_ARGS="$login $extra" bench/bank/run.sh --hot 1 --rates "$hot_rates" --step-seconds "$step"
fi
if has overload; then
  echo "== overload: $((2 * capacity))/s for 10 s, twice the capacity of $capacity/s"
  BANK_EXTRA_ARGS="$login $extra" bench/bank/run.sh --rates "$((2 * capacity))" --step-seconds 10 --keep-going
fi
if has workers; then
  for w in 1 2 4 8 16; do
    echo "== workers: --workers $w"
    BANK_EXTRA_ARGS="$login --workers $w $extra" bench/bank/run.sh --rates "$rates" --step-seconds "$step"
  done
fi
