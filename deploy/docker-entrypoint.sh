#!/usr/bin/env sh
# Starts savant the way TensorFlow Serving's image starts tensorflow_model_server: one model named
# $MODEL_NAME under $MODEL_BASE_PATH, gRPC on 8500, REST on 8501, extra arguments passed through.
set -e
exec "${SAVANT_BINARY:-/usr/local/bin/savant}" --port=8500 --rest_api_port=8501 \
  --model_name="${MODEL_NAME}" --model_base_path="${MODEL_BASE_PATH}/${MODEL_NAME}" "$@"
