"""Seed the database with an admin user."""
from app import create_app, db
from app.models import User


def seed(name="Admin"):
    user = User(name=name)
    db.session.add(user)
    db.session.commit()
    return user


if __name__ == "__main__":
    app = create_app()
    with app.app_context():
        user = seed()
        print(f"Created user: {user.name}")
