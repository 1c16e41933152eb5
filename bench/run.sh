#!/usr/bin/env bash
# Savant vs ONNX Runtime (CPU) on the same four models with the same weights, with 1 and 2 threads,
# plus GEMM GFLOP/s next to the measured FMA peak of one core. One command:
#
#   bench/run.sh                 # ROUNDS=5 SECONDS_PER=1 BUILD=build/bench by default
#
# Steps: build model_bench and gemm_bench (Release), install onnxruntime-node into
# bench/node_modules if missing (npm, --ignore-scripts: the CPU library ships in the package),
# write the models (SavedModel + ONNX) and check that both engines agree (rel err <= 1e-4), then
# alternate the engines for ROUNDS rounds (the machine is shared and noisy) and report medians.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/bench}
ROUNDS=${ROUNDS:-5}
SECONDS_PER=${SECONDS_PER:-1}
OUT=${OUT:-$BUILD/bench_out}

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
ninja -C "$BUILD" model_bench gemm_bench
if [ ! -d "$ROOT/bench/node_modules/onnxruntime-node" ]; then
  (cd "$ROOT/bench" && npm install --ignore-scripts --no-audit --no-fund)
fi
echo "onnxruntime-node $(node -p "require('$ROOT/bench/node_modules/onnxruntime-node/package.json').version")"

mkdir -p "$OUT"
"$BUILD/bench/model_bench" generate "$OUT/models"
node "$ROOT/bench/ort_bench.js" "$OUT/models" --check-only

: > "$OUT/results.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  for threads in 1 2; do
    echo "round $round/$ROUNDS threads=$threads" >&2
    "$BUILD/bench/model_bench" time "$OUT/models" --threads="$threads" --seconds="$SECONDS_PER" >> "$OUT/results.jsonl"
    node "$ROOT/bench/ort_bench.js" "$OUT/models" --threads="$threads" --seconds="$SECONDS_PER" >> "$OUT/results.jsonl"
  done
done

"$BUILD/bench/gemm_bench" --threads=2
node "$ROOT/bench/report.js" "$OUT/results.jsonl"
