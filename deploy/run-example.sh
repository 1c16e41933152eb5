#!/usr/bin/env bash
# The README's run command: installs dependencies, builds the server and serves the bundled example
# model (tests/testdata/half_plus_two, a SavedModel the project wrote itself: y = 0.5 * x + 2) the
# way TensorFlow Serving's image would: gRPC on 8500, REST on 8501. Ctrl-C stops it.
#   GRPC_PORT=9500 REST_PORT=9501 deploy/run-example.sh   # other ports
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh release savant
model_base=$PWD/tests/testdata/half_plus_two
grpc_port=${GRPC_PORT:-8500}
rest_port=${REST_PORT:-8501}
echo "== savant inspect $model_base/00000001"
build/release/server/savant inspect "$model_base/00000001"
cat <<MSG
== serving half_plus_two from $model_base (gRPC :$grpc_port, REST :$rest_port). Try:
   curl -s http://localhost:$rest_port/v1/models/half_plus_two
   curl -s -d '{"instances": [[1.0], [2.0], [5.0]]}' http://localhost:$rest_port/v1/models/half_plus_two:predict
   # -> {"predictions": [[2.5], [3.0], [4.5]]}
MSG
exec build/release/server/savant --port="$grpc_port" --rest_api_port="$rest_port" \
  --model_name=half_plus_two --model_base_path="$model_base"
