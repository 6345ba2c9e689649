#!/usr/bin/env bash
# The stack's smoke test on the Node.js lines users run (22 and 24, the LTS lines): `wattscope up`
# (InfluxDB, collector, API), then the stack as deployed with a run and its summary, the Python
# client and a baseline (test/cli/up.test.ts, test/stack/as-deployed.e2e.test.ts), each under a
# Node.js taken from the npm registry's `node` package (the binary of that release for this
# machine), so that no other download source is needed. The whole suite runs on the machine's
# own Node (`npm test`); this runs after it.
#   usage: scripts/test-node-versions.sh [major ...]     (default: 22 24)
set -euo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(22 24)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/wattscope/node"
for major in "${versions[@]}"; do
  dir="$cache/$major"
  if [ ! -x "$dir/node_modules/.bin/node" ]; then
    mkdir -p "$dir"
    echo "fetching node@$major from the npm registry into $dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --no-package-lock "node@$major" >/dev/null
  fi
  node="$dir/node_modules/.bin/node"
  got=$("$node" -p 'process.versions.node')
  [ "${got%%.*}" = "$major" ] || { echo "node@$major gave Node.js $got" >&2; exit 1; }
  echo "== Node.js $got: the stack's smoke test"
  # vitest started by that node: its workers and every process the tests start (process.execPath) run on it
  PATH="$(dirname "$node"):$PATH" "$node" node_modules/vitest/vitest.mjs run test/cli/up.test.ts test/stack/as-deployed.e2e.test.ts
done
