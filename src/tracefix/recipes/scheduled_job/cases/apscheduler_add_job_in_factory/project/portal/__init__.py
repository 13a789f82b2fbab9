from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
scheduler = BackgroundScheduler(timezone="UTC")


def create_app(config_object="portal.config.Production"):
    app = Flask(__name__)
    app.config.from_object(config_object)
    db.init_app(app)

    from portal import auth
    from portal.maintenance import purge_expired_sessions

    app.register_blueprint(auth.bp)
    scheduler.add_job(purge_expired_sessions, "interval", hours=1, id="purge_sessions")

    with app.app_context():
        db.create_all()
    return app
