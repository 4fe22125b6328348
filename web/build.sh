#!/usr/bin/env bash
# Rebuilds the web pages from the lockfile: copies the sources to a fresh
# temporary directory, installs exactly the locked packages there (npm ci,
# no install scripts) and bundles into OUT (default: web/dist, the files
# the Go build embeds). Needs node and npm; the Go build does not.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/dist}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/build.mjs" "$work/"
cp -r "$here/src" "$work/src"
cd "$work"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
rm -rf "$out/chess" "$out/console"
node build.mjs "$out"
