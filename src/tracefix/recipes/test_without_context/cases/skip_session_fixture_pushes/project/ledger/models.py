from ledger import db


class Entry(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    amount = db.Column(db.Integer, nullable=False)


def balance():
    return db.session.scalar(db.select(db.func.coalesce(db.func.sum(Entry.amount), 0)))
