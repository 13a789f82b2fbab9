from concurrent.futures import ThreadPoolExecutor

from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
#: Notifications fan out to every watcher; a few at a time.
notifier = ThreadPoolExecutor(max_workers=4)


class Ticket(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False)
    watchers = db.Column(db.String(500), nullable=False, default="")


class Notification(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    ticket_id = db.Column(db.ForeignKey(Ticket.id), nullable=False)
    recipient = db.Column(db.String(120), nullable=False)
    text = db.Column(db.String(300), nullable=False)
