# scripts/seed_db.py
from app.models import User
from app import db
user = User(name='Admin')
db.session.add(user)
db.session.commit() # RuntimeError: outside app context
