#!/usr/bin/env python3
"""Runs the Docker image's entrypoint (deploy/docker-entrypoint.sh) directly, as `docker run -e
MODEL_NAME=... ` would, and proves it serves: the model's REST status is AVAILABLE and predict
gives half_plus_two's y = 0.5x + 2. There is no Docker engine here, so the script itself is what
is tested. The entrypoint binds 8500/8501 like TensorFlow Serving's image; extra arguments pass
through, so the test appends --port=0 and a free --rest_api_port (later flags win; a REST port of 0
would turn REST off, as in TensorFlow Serving) to stay clear of ports in use on a shared machine,
and --port_file to learn the ports.

usage: entrypoint_test.py --savant BIN --entrypoint deploy/docker-entrypoint.sh --model_dir DIR
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--savant", required=True)
    ap.add_argument("--entrypoint", required=True)
    ap.add_argument("--model_dir", required=True, help="a version directory of half_plus_two")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="savant-entrypoint-")
    try:
        models = os.path.join(work, "models")
        shutil.copytree(a.model_dir, os.path.join(models, "hp2", "1"))
        port_file = os.path.join(work, "ports.json")
        env = dict(os.environ, SAVANT_BINARY=a.savant, MODEL_NAME="hp2", MODEL_BASE_PATH=models)
        log = open(os.path.join(work, "savant.log"), "w+")
        proc = subprocess.Popen(["sh", a.entrypoint, "--port=0", f"--rest_api_port={free_port()}", f"--port_file={port_file}"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 60
            ports = None
            while time.time() < deadline and proc.poll() is None:
                if os.path.exists(port_file):
                    try:
                        ports = json.load(open(port_file))
                        break
                    except ValueError:
                        pass
                time.sleep(0.1)
            if not ports:
                log.seek(0)
                print("entrypoint did not start serving:\n" + log.read(), file=sys.stderr)
                return 1
            base = f"http://127.0.0.1:{ports['rest_port']}"
            failures = []
            code, status = http("GET", f"{base}/v1/models/hp2")
            state = status.get("model_version_status", [{}])[0].get("state")
            if code != 200 or state != "AVAILABLE":
                failures.append(f"GET /v1/models/hp2: {code} {status}")
            code, pred = http("POST", f"{base}/v1/models/hp2:predict", {"instances": [[1.0], [2.0], [5.0]]})
            if code != 200 or pred.get("predictions") != [[2.5], [3.0], [4.5]]:
                failures.append(f"predict: {code} {pred}")
            code, err = http("GET", f"{base}/v1/models/nope")
            if code != 404 or "error" not in err:
                failures.append(f"unknown model: {code} {err}")
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
            if rc != 0:
                failures.append(f"exit code after SIGTERM: {rc}")
            for f in failures:
                print("FAIL:", f, file=sys.stderr)
            if failures:
                log.seek(0)
                print(log.read(), file=sys.stderr)
                return 1
            print("entrypoint serves hp2: status AVAILABLE, predict [1,2,5] -> [2.5,3,4.5], SIGTERM exit 0")
            return 0
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
