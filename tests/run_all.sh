#!/usr/bin/env bash
# The README's test command: installs dependencies, builds every preset CI checks, and runs every
# test through ctest. .ci/run calls exactly this.
#   tests/run_all.sh            release build, the two libFuzzer targets (build/fuzz), every test
#                               through ctest, the fuzz smoke runs (fuzz_smoke.*, 25 s each) included
#   SAVANT_FULL=1 tests/run_all.sh   also a longer fuzz run (SAVANT_FUZZ_LONG_SECONDS, default 300 s
#                               per target) and the ASan/UBSan build + tests
# The fuzz build compiles only what the fuzz targets exercise (about 3 minutes cold on 2 cores); the
# sanitizer pass rebuilds everything (about 10 minutes on 2 cores), so only SAVANT_FULL=1 runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

echo "== release build"
deploy/build.sh release
echo "== fuzz build (clang, build/fuzz)"
SAVANT_FUZZ_BUILD_ONLY=1 SAVANT_FUZZ_REQUIRED=1 tests/fuzz_smoke.sh
echo "== tfjs oracle packages (tests/golden: tfjs_differential_test)"
if [[ ! -d tests/golden/node_modules/@tensorflow/tfjs ]]; then
  (cd tests/golden && npm ci --ignore-scripts --no-audit --no-fund) ||
    echo "tfjs packages not installed (no npm registry?): tfjs_differential_test will report itself skipped"
fi
echo "== release tests (fuzz_smoke.* run the fuzz targets)"
SAVANT_FUZZ_REQUIRED=1 ctest --preset release

if [[ "${SAVANT_FULL:-0}" == "1" ]]; then
  echo "== longer fuzz run"
  SAVANT_FUZZ_NO_BUILD=1 SAVANT_FUZZ_REQUIRED=1 SAVANT_FUZZ_SECONDS="${SAVANT_FUZZ_LONG_SECONDS:-300}" \
    tests/fuzz_smoke.sh
fi

if [[ "${SAVANT_FULL:-0}" == "1" ]]; then
  echo "== asan build"
  deploy/build.sh asan
  echo "== asan tests"
  ctest --preset asan --label-exclude slow
fi
