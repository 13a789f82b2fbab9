"""Check that SIGHUP reloads the settings: python -m scripts.check_reload"""

import os
import signal

from billing import create_app

app = create_app()
os.kill(os.getpid(), signal.SIGHUP)
print("reloaded:", app.config["INVOICE_PREFIX"])
