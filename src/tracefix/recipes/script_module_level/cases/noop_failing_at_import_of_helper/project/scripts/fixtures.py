from app import db
from app.models import User

ADMIN = User(name="Admin")
db.session.add(ADMIN)
