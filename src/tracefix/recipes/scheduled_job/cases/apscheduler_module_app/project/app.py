from datetime import datetime
from datetime import timedelta
from datetime import timezone

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from flask import jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///carts.db"
db = SQLAlchemy(app)


class Cart(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    updated_at = db.Column(db.DateTime, nullable=False)


with app.app_context():
    db.create_all()


def expire_carts():
    """Delete the carts nobody touched for a day."""
    cutoff = datetime.now(timezone.utc) - timedelta(days=1)
    expired = db.session.execute(db.delete(Cart).where(Cart.updated_at < cutoff))
    db.session.commit()
    app.logger.info("expired %d carts", expired.rowcount)


scheduler = BackgroundScheduler()
scheduler.add_job(expire_carts, "interval", minutes=10, id="expire_carts")


@app.get("/carts/count")
def count_carts():
    return jsonify(count=db.session.query(Cart).count())


if __name__ == "__main__":
    scheduler.start()
    app.run()
