# scripts/seed_db.py
from app.models import User
from app import create_app, db

app = create_app()

with app.app_context():
    user = User(name='Admin')
    db.session.add(user)
    db.session.commit() # RuntimeError: outside app context
