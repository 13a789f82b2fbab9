"""Download one user's notes the way the browser does."""

from notes.models import Note
from notes.models import db
from notes.web import create_app

app = create_app("testing")
with app.app_context():
    db.session.add(Note(owner="ada", text="buy milk"))
    db.session.commit()
print(app.test_client().get("/users/ada/notes.csv").get_data(as_text=True))
