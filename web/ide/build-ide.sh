#!/usr/bin/env bash
# Vendors GraphiQL for /ide from npm (no CDN at run time): installs pinned versions into a temp
# dir and copies the UMD builds and their licenses here. Re-run to upgrade, then commit the files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
echo '{"private":true}' > package.json
npm install --no-audit --no-fund --silent graphiql@3.8.3 react@18.3.1 react-dom@18.3.1 \
  graphql@16.9.0 graphql-ws@5.16.2
nm="$tmp/node_modules"
mkdir -p "$here/vendor/licenses"
cp "$nm/react/umd/react.production.min.js" "$here/vendor/"
cp "$nm/react-dom/umd/react-dom.production.min.js" "$here/vendor/"
cp "$nm/graphql-ws/umd/graphql-ws.min.js" "$here/vendor/"
cp "$nm/graphiql/graphiql.min.js" "$nm/graphiql/graphiql.min.css" "$here/vendor/"
cp "$nm/react/LICENSE" "$here/vendor/licenses/react.LICENSE"
cp "$nm/react-dom/LICENSE" "$here/vendor/licenses/react-dom.LICENSE"
cp "$nm/graphiql/LICENSE" "$here/vendor/licenses/graphiql.LICENSE"
cp "$nm/graphql-ws/LICENSE.md" "$here/vendor/licenses/graphql-ws.LICENSE"
echo "vendored GraphiQL into $here/vendor"
