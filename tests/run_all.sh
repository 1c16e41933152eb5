#!/usr/bin/env bash
# The README's test command: installs dependencies, builds every preset CI checks, and runs every
# test through ctest. .ci/run calls exactly this.
#   tests/run_all.sh            release build + all tests, fuzz smoke, then the asan build + tests
#   SAVANT_SKIP_ASAN=1 ...      skip the sanitizer pass (local iteration)
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
jobs=$(nproc)

echo "== release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
echo "== release tests"
ctest --preset release

if [[ -x tests/fuzz_smoke.sh ]]; then
  echo "== fuzz smoke"
  tests/fuzz_smoke.sh
fi

if [[ "${SAVANT_SKIP_ASAN:-0}" != "1" ]]; then
  echo "== asan build"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  echo "== asan tests"
  ctest --preset asan --label-exclude slow
fi
