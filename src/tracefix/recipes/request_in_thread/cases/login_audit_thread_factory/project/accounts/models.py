from flask_login import UserMixin

from accounts import db
from accounts import login_manager


class User(UserMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(120), unique=True, nullable=False)


class LoginEvent(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.ForeignKey(User.id), nullable=False)
    ip = db.Column(db.String(45))


@login_manager.user_loader
def load_user(user_id):
    return db.session.get(User, int(user_id))
