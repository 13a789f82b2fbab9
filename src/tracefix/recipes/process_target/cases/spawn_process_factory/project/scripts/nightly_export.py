"""The nightly export, in a process of its own so that a crash cannot take the worker down."""

import multiprocessing
import sys

from shop.exports import export_orders

if __name__ == "__main__":
    process = multiprocessing.get_context("spawn").Process(
        target=export_orders, args=("orders.csv",)
    )
    process.start()
    process.join()
    sys.exit(process.exitcode)
