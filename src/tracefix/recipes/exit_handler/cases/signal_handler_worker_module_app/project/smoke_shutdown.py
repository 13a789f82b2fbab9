"""Start the worker, stop it the way the platform does (SIGTERM), and fail if it fails."""

import subprocess
import sys

worker = subprocess.Popen([sys.executable, "worker.py"], stdout=subprocess.PIPE, text=True)
assert worker.stdout.readline().strip() == "ready"
worker.terminate()
sys.exit(worker.wait())
