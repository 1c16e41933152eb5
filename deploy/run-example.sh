#!/usr/bin/env bash
# The README's run command: installs dependencies, builds, and runs the bundled example model.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target savant
model=tests/testdata/half_plus_two/00000001
echo "== savant inspect $model"
build/release/server/savant inspect "$model"
echo "== savant run $model --inputs 'x=[[1.0],[2.0],[5.0]]'"
build/release/server/savant run "$model" --signature_def serving_default --inputs 'x=[[1.0],[2.0],[5.0]]'
