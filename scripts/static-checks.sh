#!/usr/bin/env bash
# ESLint and the strict type-check side by side (each is mostly one core's work): fails if either
# fails, each tool's report under its name. `npm test` runs this, then vitest.
set -u
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
node_modules/.bin/eslint . > "$out/lint" 2>&1 & lint=$!
node_modules/.bin/tsc -p tsconfig.json > "$out/tsc" 2>&1 & tsc=$!
wait $lint; lint_rc=$?
wait $tsc; tsc_rc=$?
[ $lint_rc -eq 0 ] && echo "eslint: clean" || { echo "eslint: failed"; cat "$out/lint"; }
[ $tsc_rc -eq 0 ] && echo "tsc (strict): clean" || { echo "tsc (strict): failed"; cat "$out/tsc"; }
[ $lint_rc -eq 0 ] && [ $tsc_rc -eq 0 ]
