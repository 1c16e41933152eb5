#!/bin/sh
# Regenerates tests/golden/ops/*.json with the TensorFlow.js version pinned in package-lock.json.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
node generate.js
