"""The newsletter's scheduler: python worker.py (or --once to run every job now)."""

import sys
import time
from pathlib import Path

import schedule

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from newsletter import create_app  # noqa: E402
from newsletter.digest import send_weekly_digest  # noqa: E402

app = create_app()

schedule.every().monday.at("08:00").do(send_weekly_digest, app)

if __name__ == "__main__":
    if "--once" in sys.argv:
        schedule.run_all()
    else:
        while True:
            schedule.run_pending()
            time.sleep(30)
