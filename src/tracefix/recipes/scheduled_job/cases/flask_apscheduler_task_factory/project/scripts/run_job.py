"""Run one scheduled job now, outside its schedule: python -m scripts.run_job JOB_ID"""

import sys

from shop import create_app
from shop.extensions import scheduler

create_app()
scheduler.run_job(sys.argv[1])
print(f"ran {sys.argv[1]}")
