from portal import create_app
from portal import scheduler

app = create_app()
scheduler.start()
