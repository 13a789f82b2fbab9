from shop import create_app
from shop.extensions import scheduler

app = create_app()
scheduler.start()
