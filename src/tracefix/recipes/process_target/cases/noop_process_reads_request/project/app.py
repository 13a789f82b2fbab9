import multiprocessing
import sys

from flask import Flask
from flask import request

app = Flask(__name__)


def log_visit():
    with app.app_context():
        # meant to log who asked for the export, but this process has no request
        app.logger.warning("export requested by %s", request.remote_addr)


if __name__ == "__main__":
    process = multiprocessing.get_context("spawn").Process(target=log_visit)
    process.start()
    process.join()
    sys.exit(process.exitcode)
