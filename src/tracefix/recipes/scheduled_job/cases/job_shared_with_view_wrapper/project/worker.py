import sys
import time

import schedule

import inventory.jobs  # noqa: F401  (registers the jobs)

if "--once" in sys.argv:
    schedule.run_all()
else:
    while True:
        schedule.run_pending()
        time.sleep(60)
