#!/usr/bin/env python3
"""Runs clients/python/predict_client.py against the real `savant` binary serving the project's own
tests/testdata/half_plus_two (y = 0.5 * x + 2, so x = [1, 2, 5] gives [2.5, 3, 4.5]), and checks
the printed values and the error path for an unknown model.

Exit codes: 0 pass, 1 fail, 77 skipped (python3-grpcio or python3-protobuf missing).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

SKIP = 77
ARGS = None
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "predict_client.py")


class PythonClientExampleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="python_client_example_test-")
        base = os.path.join(cls.tmp, "models", "half_plus_two")
        shutil.copytree(ARGS.model_dir, base)
        port_file = os.path.join(cls.tmp, "ports.json")
        cls.log = open(os.path.join(cls.tmp, "savant.log"), "w")
        cls.server = subprocess.Popen(
            [ARGS.savant, "--port=0", "--rest_api_port=0", "--port_file=" + port_file, "--model_name=half_plus_two",
             "--model_base_path=" + base], stdout=cls.log, stderr=cls.log)
        deadline = time.time() + 30
        while not os.path.exists(port_file):
            if cls.server.poll() is not None or time.time() > deadline:
                raise RuntimeError("savant did not start:\n" + open(cls.log.name).read())
            time.sleep(0.02)
        with open(port_file) as f:
            cls.address = "127.0.0.1:%d" % json.load(f)["grpc_port"]

    @classmethod
    def tearDownClass(cls):
        if cls.server.poll() is None:
            cls.server.kill()
            cls.server.wait()
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

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
