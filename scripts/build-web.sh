#!/usr/bin/env bash
# Builds the web UI into web/dist, only when dist is missing or older than any source of the UI
# (web/src, web/index.html, the configs and the lock file). Runs `npm ci` in web/ first when
# web/node_modules is missing (`make node-deps` keeps it in step with the lock file). The build
# itself needs no network. Quiet when there is nothing to do.
#
# --if-possible (used by `make build`): when node or npm is missing, or web/node_modules is missing
# and `npm ci` fails (no network), say so and exit 0, so the C build still succeeds; `bank run`
# then has no UI to serve at / until the UI is built.
set -euo pipefail
cd "$(dirname "$0")/.."
web=web
optional=false
[ "${1:-}" = "--if-possible" ] && optional=true

skip() {
  if $optional; then
    echo "build-web: $1; the web UI is not built (bank run will have no page at /)" >&2
    exit 0
  fi
  echo "build-web: $1" >&2
  exit 1
}

stamp="$web/dist/index.html"
if [ -f "$stamp" ]; then
  sources=()
  for p in "$web/src" "$web/public" "$web/index.html" "$web/vite.config.ts" "$web/tsconfig.json" "$web/package-lock.json"; do
    [ -e "$p" ] && sources+=("$p")
  done
  newer=$(find "${sources[@]}" -newer "$stamp" -print -quit 2>/dev/null || true)
  [ -z "$newer" ] && exit 0
fi
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are needed to build the UI"
if [ ! -d "$web/node_modules" ]; then
  echo "build-web: npm ci in $web" >&2
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || skip "npm ci in $web failed"
fi
echo "build-web: building $web/dist" >&2
npm --prefix "$web" run build --silent >/dev/null || skip "the UI build failed (npm --prefix web run build)"
touch "$stamp"
