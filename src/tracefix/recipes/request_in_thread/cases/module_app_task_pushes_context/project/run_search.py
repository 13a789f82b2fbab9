"""Search once through the test client, then show what the statistics recorded."""

import threading

from app import app
from app import db
from models import Search

with app.app_context():
    db.create_all()
print(app.test_client().get("/search?q=Flask", headers={"User-Agent": "demo"}).status_code)
for thread in threading.enumerate():
    if thread is not threading.main_thread():
        thread.join()
with app.app_context():
    print([(s.term, s.agent) for s in db.session.scalars(db.select(Search))])
