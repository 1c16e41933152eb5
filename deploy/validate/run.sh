#!/usr/bin/env bash
# Validates deploy/ manifests (see validate.mjs). Installs the pinned validator packages on first use.
# Exit 77 (skipped) when node/npm are missing or the npm registry cannot be reached.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null && command -v npm >/dev/null || { echo "validate: node/npm not installed, skipped"; exit 77; }
if [[ ! -d node_modules/kubernetes-models ]]; then
  npm ci --ignore-scripts --no-audit --no-fund >/dev/null 2>&1 || { echo "validate: npm ci failed (no registry?), skipped"; exit 77; }
fi
exec node validate.mjs
