#!/usr/bin/env python3
"""Wire compatibility with a client that shares no code with the server.

A Python grpcio client, using message modules generated at test time from the project's .proto
files with `protoc --python_out` (no gRPC code generator needed: methods are called through
grpc's generic channel.unary_unary), talks to the real `savant` binary serving a copy of
TensorFlow Serving's half_plus_two model. It also checks that Python serializes the requests to
the same golden bytes as C++ (tests/integration/golden/*.hex, written by hand from the wire
format).

Exit codes: 0 pass, 1 fail, 77 skipped (fixtures or Python modules missing).
"""

import argparse
import json
import os
import re
import shutil
import signal
import struct
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "util"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "clients", "python"))
from predict_client import generate_modules  # noqa: E402  (the one protoc --python_out helper)
from savant_server import SavantServer  # noqa: E402

SKIP = 77
ARGS = None


def find_fixtures():
    env = os.environ.get("SAVANT_FIXTURES")
    if env:
        return env if os.path.isdir(env) else None
    here = os.path.dirname(os.path.abspath(__file__))
    for start in (here, os.getcwd()):
        p = start
        while True:
            candidate = os.path.join(p, "..", "shared", "fixtures")
            if os.path.isdir(candidate):
                return os.path.realpath(candidate)
            parent = os.path.dirname(p)
            if parent == p:
                break
            p = parent
    return None


def read_hex(path):
    digits = ""
    with open(path) as f:
        for line in f:
            digits += re.sub(r"[^0-9a-fA-F]", "", line.split("#", 1)[0])
    return bytes.fromhex(digits)


class WireCompatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import grpc  # noqa: F401  (checked in main)
        from google.protobuf import json_format  # noqa: F401
        cls.gen = tempfile.mkdtemp(prefix="wire_compat_test-gen-")
        sys.path.insert(0, generate_modules(ARGS.protoc, ARGS.proto_dir, cls.gen))
        cls.fixtures = os.path.join(ARGS.fixtures, "tfserving")
        cls.savant = SavantServer(ARGS.savant, os.path.join(cls.fixtures, "saved_model_half_plus_two_cpu"),
                                  "wire_compat_test")
        cls.server = cls.savant.process
        cls.port = cls.savant.grpc_port
        cls.channel = grpc.insecure_channel("localhost:%d" % cls.port)

        from kserve import grpc_predict_v2_pb2 as kserve
        ready = cls.call("/inference.GRPCInferenceService/ServerReady", kserve.ServerReadyRequest(),
                         kserve.ServerReadyResponse)
        while not ready.ready:
            time.sleep(0.02)
            ready = cls.call("/inference.GRPCInferenceService/ServerReady", kserve.ServerReadyRequest(),
                             kserve.ServerReadyResponse)

    @classmethod
    def tearDownClass(cls):
        cls.savant.stop()
        shutil.rmtree(cls.gen, ignore_errors=True)

    @classmethod
    def call(cls, method, request, response_type):
        stub = cls.channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=response_type.FromString)
        return stub(request, timeout=10)

    @staticmethod
    def predict_request():
        from tensorflow_serving.apis import predict_pb2
        from tensorflow.core.framework import types_pb2
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "half_plus_two"
        request.model_spec.signature_name = "serving_default"
        x = request.inputs["x"]
        x.dtype = types_pb2.DT_FLOAT
        x.tensor_shape.dim.add(size=3)
        x.tensor_shape.dim.add(size=1)
        x.float_val.extend([1.0, 2.0, 5.0])
        return request

    def test_golden_predict_request_bytes(self):
        golden = read_hex(os.path.join(ARGS.golden_dir, "predict_half_plus_two.hex"))
        self.assertEqual(self.predict_request().SerializeToString(deterministic=True), golden)

    def test_golden_model_infer_request_bytes(self):
        from kserve import grpc_predict_v2_pb2 as kserve
        request = kserve.ModelInferRequest(model_name="half_plus_two")
        request.inputs.add(name="x", datatype="FP32", shape=[3, 1])
        request.raw_input_contents.append(struct.pack("<3f", 1.0, 2.0, 5.0))
        golden = read_hex(os.path.join(ARGS.golden_dir, "model_infer_half_plus_two_raw.hex"))
        self.assertEqual(request.SerializeToString(deterministic=True), golden)

    def test_predict(self):
        from tensorflow_serving.apis import predict_pb2
        response = self.call("/tensorflow.serving.PredictionService/Predict", self.predict_request(),
                             predict_pb2.PredictResponse)
        self.assertEqual(list(response.outputs["y"].float_val), [2.5, 3.0, 4.5])
        self.assertEqual([d.size for d in response.outputs["y"].tensor_shape.dim], [3, 1])
        self.assertEqual(response.model_spec.name, "half_plus_two")
        self.assertEqual(response.model_spec.version.value, 123)
        self.assertEqual(response.model_spec.signature_name, "serving_default")

    def test_unknown_model_is_not_found(self):
        import grpc
        from tensorflow_serving.apis import predict_pb2
        request = self.predict_request()
        request.model_spec.name = "nope"
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("/tensorflow.serving.PredictionService/Predict", request, predict_pb2.PredictResponse)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(caught.exception.details(), "Servable not found for request: Latest(nope)")

    def test_model_status(self):
        from tensorflow_serving.apis import get_model_status_pb2
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = "half_plus_two"
        response = self.call("/tensorflow.serving.ModelService/GetModelStatus", request,
                             get_model_status_pb2.GetModelStatusResponse)
        self.assertEqual(len(response.model_version_status), 1)
        self.assertEqual(response.model_version_status[0].version, 123)
        self.assertEqual(response.model_version_status[0].state, get_model_status_pb2.ModelVersionStatus.AVAILABLE)

    def test_model_metadata_matches_tensorflow_serving(self):
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2
        request = get_model_metadata_pb2.GetModelMetadataRequest()
        request.model_spec.name = "half_plus_two"
        request.metadata_field.append("signature_def")
        response = self.call("/tensorflow.serving.PredictionService/GetModelMetadata", request,
                             get_model_metadata_pb2.GetModelMetadataResponse)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        self.assertTrue(response.metadata["signature_def"].Unpack(signatures))
        actual = json_format.MessageToDict(signatures, preserving_proto_field_name=True,
                                           including_default_value_fields=True)
        with open(os.path.join(self.fixtures, "half_plus_two_model_metadata.json")) as f:
            expected = json.load(f)
        self.assertEqual(actual, expected["metadata"]["signature_def"])
        self.assertEqual(response.model_spec.version.value, int(expected["model_spec"]["version"]))

    def test_classify(self):
        from tensorflow_serving.apis import classification_pb2
        request = classification_pb2.ClassificationRequest()
        request.model_spec.name = "half_plus_two"
        request.model_spec.signature_name = "classify_x_to_y"
        for x in (1.0, 2.0, 5.0):
            example = request.input.example_list.examples.add()
            example.features.feature["x"].float_list.value.append(x)
        response = self.call("/tensorflow.serving.PredictionService/Classify", request,
                             classification_pb2.ClassificationResponse)
        self.assertEqual([c.classes[0].score for c in response.result.classifications], [2.5, 3.0, 4.5])

    def test_kserve_model_infer_raw(self):
        from kserve import grpc_predict_v2_pb2 as kserve
        request = kserve.ModelInferRequest()
        request.ParseFromString(read_hex(os.path.join(ARGS.golden_dir, "model_infer_half_plus_two_raw.hex")))
        response = self.call("/inference.GRPCInferenceService/ModelInfer", request, kserve.ModelInferResponse)
        self.assertEqual(response.outputs[0].name, "y")
        self.assertEqual(list(response.outputs[0].shape), [3, 1])
        self.assertEqual(struct.unpack("<3f", response.raw_output_contents[0]), (2.5, 3.0, 4.5))

    def test_zz_sigterm_exits_zero(self):
        # Runs last (unittest sorts by name): the server is gone afterwards.
        self.server.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.wait(timeout=20), 0)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--savant", required=True)
    parser.add_argument("--protoc", default="protoc")
    parser.add_argument("--proto_dir", required=True)
    parser.add_argument("--golden_dir", required=True)
    parser.add_argument("--fixtures", default=None)
    ARGS, rest = parser.parse_known_args()
    try:
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError as e:
        print("SKIP: python grpcio/protobuf not available: %s" % e)
        return SKIP
    ARGS.fixtures = ARGS.fixtures or find_fixtures()
    if not ARGS.fixtures or not os.path.isdir(os.path.join(ARGS.fixtures, "tfserving", "saved_model_half_plus_two_cpu")):
        print("SKIP: fixtures not found (set SAVANT_FIXTURES)")
        return SKIP
    result = unittest.main(argv=[sys.argv[0], "-v"] + rest, exit=False).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
