#!/usr/bin/env bash
# Installs the npm packages of every folder that has a package-lock.json (test oracles, web UI),
# only when the lock file changed since the last install. Quiet when nothing is to do.
set -euo pipefail
cd "$(dirname "$0")/.."
for dir in tests web; do
  [ -f "$dir/package-lock.json" ] || continue
  stamp="$dir/node_modules/.installed-lock"
  if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then
    continue
  fi
  echo "install-node-deps: npm ci in $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$dir/package-lock.json" "$stamp"
done
