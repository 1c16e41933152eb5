#!/usr/bin/env bash
# Configures and builds a CMake preset (default: release), optionally only some targets. Shared by
# the README's commands (tests/run_all.sh, deploy/run-example.sh), CI and the Dockerfile's build
# stage, so all of them build the same way.
#   deploy/build.sh                    # release preset, every target
#   deploy/build.sh release savant     # release preset, only the server binary
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)" "${targets[@]}"
