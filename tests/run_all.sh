#!/usr/bin/env bash
# The README's test command: installs dependencies, builds every preset CI checks, and runs every
# test through ctest. .ci/run calls exactly this.
#   tests/run_all.sh            release build + every test through ctest
#   SAVANT_FULL=1 tests/run_all.sh   also the libFuzzer smoke run and the ASan/UBSan build + tests
# The sanitizer and fuzz passes each rebuild everything (about 10 minutes each on 2 cores), so the
# default run keeps to the release build to stay well inside CI's budget.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

echo "== release build"
deploy/build.sh release
echo "== release tests"
ctest --preset release

if [[ "${SAVANT_FULL:-0}" == "1" && -x tests/fuzz_smoke.sh ]]; then
  echo "== fuzz smoke"
  tests/fuzz_smoke.sh
fi

if [[ "${SAVANT_FULL:-0}" == "1" ]]; then
  echo "== asan build"
  deploy/build.sh asan
  echo "== asan tests"
  ctest --preset asan --label-exclude slow
fi
