#!/usr/bin/env python3
"""Example Python client for Savant (or TensorFlow Serving): gRPC Predict with Debian's python3-grpcio.

The message classes are generated at run time from the repository's proto/ folder with
`protoc --python_out` (python3-protobuf provides the runtime), so no TensorFlow or
tensorflow-serving-api package is needed. Methods are called through grpc's generic
channel.unary_unary with the TF Serving method path, so no gRPC code generator plugin is needed either.

    python3 clients/python/predict_client.py --server 127.0.0.1:8500 --model half_plus_two \\
        --inputs '{"x": [[1.0], [2.0], [5.0]]}'
    {"model": "half_plus_two", "version": 123, "outputs": {"y": [[2.5], [3.0], [4.5]]}}

Exit codes: 0 ok, 1 the server returned an error (its gRPC code and message go to stderr), 2 usage.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))


def generate_modules(protoc, proto_dir, out_dir):
    """Runs protoc --python_out over every .proto under proto_dir; returns out_dir for sys.path."""
    protos = []
    for root, _, files in os.walk(proto_dir):
        protos += [os.path.relpath(os.path.join(root, f), proto_dir) for f in files if f.endswith(".proto")]
    subprocess.run([protoc, "--python_out=" + out_dir, "-I" + proto_dir] + sorted(protos), check=True)
    return out_dir


def shape_of(value):
    """The dims of a nested list (a scalar has none); raises ValueError for ragged lists."""
    if not isinstance(value, list):
        return []
    if not value:
        return [0]
    inner = shape_of(value[0])
    for v in value[1:]:
        if shape_of(v) != inner:
            raise ValueError("ragged nested lists")
    return [len(value)] + inner


def flatten(value):
    if isinstance(value, list):
        return [x for v in value for x in flatten(v)]
    return [value]


def to_tensor_proto(value, dtype_name):
    """A nested list as a TensorProto of the given dtype (DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64, DT_STRING)."""
    from tensorflow.core.framework import tensor_pb2, types_pb2
    t = tensor_pb2.TensorProto(dtype=types_pb2.DataType.Value(dtype_name))
    for d in shape_of(value):
        t.tensor_shape.dim.add(size=d)
    flat = flatten(value)
    field = {"DT_FLOAT": "float_val", "DT_DOUBLE": "double_val", "DT_INT32": "int_val", "DT_INT64": "int64_val",
             "DT_STRING": "string_val", "DT_BOOL": "bool_val"}[dtype_name]
    if dtype_name == "DT_STRING":
        flat = [s.encode() for s in flat]
    getattr(t, field).extend(flat)
    return t


def from_tensor_proto(t):
    """A TensorProto's values as a nested list (typed *_val fields or tensor_content)."""
    import struct
    from tensorflow.core.framework import types_pb2
    dims = [d.size for d in t.tensor_shape.dim]
    n = 1
    for d in dims:
        n *= d
    formats = {types_pb2.DT_FLOAT: ("f", "float_val"), types_pb2.DT_DOUBLE: ("d", "double_val"),
               types_pb2.DT_INT32: ("i", "int_val"), types_pb2.DT_INT64: ("q", "int64_val"),
               types_pb2.DT_BOOL: ("?", "bool_val"), types_pb2.DT_STRING: (None, "string_val")}
    fmt, field = formats[t.dtype]
    if t.tensor_content:
        flat = list(struct.unpack("<%d%s" % (n, fmt), t.tensor_content))
    else:
        flat = list(getattr(t, field))
        if len(flat) == 1 and n > 1:
            flat = flat * n
    if t.dtype == types_pb2.DT_STRING:
        flat = [s.decode(errors="replace") for s in flat]

    def nest(values, shape):
        if not shape:
            return values[0]
        step = len(values) // shape[0] if shape[0] else 0
        return [nest(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]
    return nest(flat, dims)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="127.0.0.1:8500", help="HOST:PORT of the gRPC port")
    parser.add_argument("--model", required=True)
    parser.add_argument("--version", type=int)
    parser.add_argument("--signature", default="serving_default")
    parser.add_argument("--inputs", required=True, help='JSON object: {"alias": nested list, ...}')
    parser.add_argument("--dtype", default="DT_FLOAT", help="dtype of every input (default DT_FLOAT)")
    parser.add_argument("--proto_dir", default=DEFAULT_PROTO_DIR)
    parser.add_argument("--protoc", default=shutil.which("protoc") or "protoc")
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args(argv)
    try:
        inputs = json.loads(args.inputs)
        if not isinstance(inputs, dict):
            raise ValueError("expected a JSON object")
    except ValueError as e:
        print("predict_client: --inputs: %s" % e, file=sys.stderr)
        return 2

    import grpc
    gen = tempfile.mkdtemp(prefix="savant-python-client-")
    try:
        sys.path.insert(0, generate_modules(args.protoc, args.proto_dir, gen))
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = args.model
        request.model_spec.signature_name = args.signature
        if args.version is not None:
            request.model_spec.version.value = args.version
        try:
            for alias, value in inputs.items():
                request.inputs[alias].CopyFrom(to_tensor_proto(value, args.dtype))
        except (ValueError, KeyError, TypeError) as e:
            print("predict_client: --inputs: %s" % e, file=sys.stderr)
            return 2

        with grpc.insecure_channel(args.server) as channel:
            predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict",
                                          request_serializer=predict_pb2.PredictRequest.SerializeToString,
                                          response_deserializer=predict_pb2.PredictResponse.FromString)
            try:
                response = predict(request, timeout=args.timeout)
            except grpc.RpcError as e:
                print("predict_client: %s: %s" % (e.code().name, e.details()), file=sys.stderr)
                return 1
        result = {"model": response.model_spec.name, "version": response.model_spec.version.value,
                  "outputs": {k: from_tensor_proto(v) for k, v in sorted(response.outputs.items())}}
        print(json.dumps(result))
        return 0
    finally:
        shutil.rmtree(gen, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
