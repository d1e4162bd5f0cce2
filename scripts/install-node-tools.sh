#!/usr/bin/env bash
# Install the pinned Node tools of validators/ (Spectral) from the npm registry.
#
#   bash scripts/install-node-tools.sh
#
# Idempotent: runs `npm ci` only when validators/node_modules is missing or
# package.json / package-lock.json / .npmrc changed since the last install.
# validators/.npmrc turns install scripts off, so nothing but registry
# tarballs is downloaded (no telemetry pings, no browsers, no binaries).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$here/validators"
stamp="$dir/node_modules/.audit-sdk-installed"

if ! command -v npm >/dev/null 2>&1; then
  echo "install-node-tools: npm not found (Node.js >= 18.18 with npm is needed for Spectral)" >&2
  exit 1
fi

want="$(cat "$dir/package.json" "$dir/package-lock.json" "$dir/.npmrc" | sha256sum | cut -d' ' -f1)"
if [[ -x "$dir/node_modules/.bin/spectral" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "install-node-tools: validators/node_modules is up to date"
  exit 0
fi

echo "install-node-tools: npm ci in validators/"
(cd "$dir" && SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund)
echo "$want" >"$stamp"
"$dir/node_modules/.bin/spectral" --version | sed 's/^/install-node-tools: spectral /'
