#!/usr/bin/env bash
# Builds the web UI into web/dist, only when dist is missing or older than any source of the UI
# (web/src, web/public, index.html, the configs and the lock file). Runs `npm ci` in web/ first
# when web/node_modules is missing (`make node-deps` keeps it in step with the lock file).
# Quiet when there is nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
web=web
stamp="$web/dist/index.html"
if [ -f "$stamp" ]; then
  newer=$(find "$web/src" "$web/public" "$web/index.html" "$web/vite.config.ts" "$web/tsconfig.json" \
    "$web/package-lock.json" -newer "$stamp" -print -quit 2>/dev/null || true)
  [ -z "$newer" ] && exit 0
fi
if [ ! -d "$web/node_modules" ]; then
  echo "build-web: npm ci in $web" >&2
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "build-web: building $web/dist" >&2
npm --prefix "$web" run build --silent >/dev/null
touch "$stamp"
