#!/usr/bin/env python3
"""Runs clients/python/predict_client.py against the real `savant` binary serving the project's own
tests/testdata/half_plus_two (y = 0.5 * x + 2, so x = [1, 2, 5] gives [2.5, 3, 4.5]), and checks
the printed values and the error path for an unknown model.

Exit codes: 0 pass, 1 fail, 77 skipped (python3-grpcio or python3-protobuf missing).
"""

import argparse
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "util"))
from savant_server import SavantServer  # noqa: E402

SKIP = 77
ARGS = None
CLIENT = os.path.join(HERE, "predict_client.py")


class PythonClientExampleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = SavantServer(ARGS.savant, ARGS.model_dir, "python_client_example_test")
        cls.address = "127.0.0.1:%d" % cls.server.grpc_port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def run_client(self, *extra):
        cmd = [sys.executable, CLIENT, "--server", self.address, "--protoc", ARGS.protoc,
               "--proto_dir", ARGS.proto_dir] + list(extra)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def predict_when_ready(self, *extra):
        # The port file appears before the model is loaded; UNAVAILABLE until then.
        deadline = time.time() + 30
        while True:
            r = self.run_client(*extra)
            if r.returncode == 0 or "UNAVAILABLE" not in r.stderr or time.time() > deadline:
                return r
            time.sleep(0.2)

    def test_predict_half_plus_two(self):
        r = self.predict_when_ready("--model", "half_plus_two", "--inputs", '{"x": [[1.0], [2.0], [5.0]]}')
        self.assertEqual(r.returncode, 0, r.stderr)
        result = json.loads(r.stdout)
        self.assertEqual(result["model"], "half_plus_two")
        self.assertEqual(result["version"], 1)
        self.assertEqual(result["outputs"]["y"], [[2.5], [3.0], [4.5]])

    def test_unknown_model_reports_not_found(self):
        self.predict_when_ready("--model", "half_plus_two", "--inputs", '{"x": [[1.0]]}')
        r = self.run_client("--model", "nope", "--inputs", '{"x": [[1.0]]}')
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), "predict_client: NOT_FOUND: Servable not found for request: Latest(nope)")

    def test_bad_inputs_are_usage_errors(self):
        r = self.run_client("--model", "half_plus_two", "--inputs", '{"x": [[1.0], [2.0, 3.0]]}')
        self.assertEqual(r.returncode, 2)
        self.assertIn("ragged", r.stderr)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--savant", required=True)
    parser.add_argument("--protoc", required=True)
    parser.add_argument("--proto_dir", required=True)
    parser.add_argument("--model_dir", required=True)
    ARGS, rest = parser.parse_known_args()
    try:
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError as e:
        print("skipped: %s (Debian: python3-grpcio python3-protobuf)" % e)
        return SKIP
    result = unittest.main(argv=[sys.argv[0]] + rest, exit=False).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
