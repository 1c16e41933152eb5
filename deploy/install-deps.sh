#!/usr/bin/env bash
# Installs every build and test dependency of Savant on Debian bookworm.
# Idempotent: packages already present are skipped by apt. Used by the README,
# .ci/run and the Dockerfile's build stage, so CI proves the image's install step.
#
#   deploy/install-deps.sh            build + test dependencies
#   deploy/install-deps.sh --runtime  only the shared libraries the server needs at run time
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libhwy-dev
  libboost-dev libboost-system-dev
  prometheus-cpp-dev rapidjson-dev
  clang libclang-rt-14-dev
  python3 python3-grpcio python3-protobuf python3-numpy
  curl
  prometheus
  gnuplot-nox
)
RUNTIME_PACKAGES=(
  libprotobuf32 libgrpc++1.51 libhwy1 libprometheus-cpp-core1.0 ca-certificates curl
)

if [[ "${1:-}" == "--runtime" ]]; then
  wanted=("${RUNTIME_PACKAGES[@]}")
else
  wanted=("${BUILD_PACKAGES[@]}")
fi

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#wanted[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
