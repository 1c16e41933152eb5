"""The real `savant` binary as a child process, for the Python tests (clients/python/example_test.py,
tests/integration/python/wire_compat_test.py): serves a copy of one model (fixtures are read-only,
so the copy is made writable), reports its ports through --port_file, and cleans up on stop().

    server = SavantServer(savant_binary, model_dir, "my_test")
    channel = grpc.insecure_channel("127.0.0.1:%d" % server.grpc_port)
    ...
    server.stop()
"""

import json
import os
import shutil
import stat
import subprocess
import tempfile
import time


def copy_tree(src, dst):
    """shutil.copytree, with every copied file and directory made writable by the owner."""
    shutil.copytree(src, dst)
    for root, dirs, files in os.walk(dst):
        for name in dirs + files:
            p = os.path.join(root, name)
            os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)


class SavantServer:
    """Starts `savant --model_name=<model_name> --model_base_path=<copy of model_dir>` on ports 0 and
    waits (up to `timeout` s) for its port file; raises RuntimeError with the log if it exits first."""

    def __init__(self, savant, model_dir, prefix, model_name="half_plus_two", timeout=30):
        self.tmp = tempfile.mkdtemp(prefix=prefix + "-")
        base = os.path.join(self.tmp, "models", model_name)
        copy_tree(model_dir, base)
        port_file = os.path.join(self.tmp, "ports.json")
        self.log = open(os.path.join(self.tmp, "savant.log"), "w")
        self.process = subprocess.Popen(
            [savant, "--port=0", "--rest_api_port=0", "--port_file=" + port_file, "--model_name=" + model_name,
             "--model_base_path=" + base], stdout=self.log, stderr=self.log)
        deadline = time.time() + timeout
        while not os.path.exists(port_file):
            if self.process.poll() is not None or time.time() > deadline:
                log = open(self.log.name).read()
                self.stop()
                raise RuntimeError("savant did not start:\n" + log)
            time.sleep(0.02)
        with open(port_file) as f:
            ports = json.load(f)
        self.grpc_port = ports["grpc_port"]
        self.rest_port = ports.get("rest_port", 0)

    def stop(self):
        """Kills the server if it still runs and removes its directory."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
