import flask

from reports.models import db


def create_app(config_class="config.Config"):
    app = flask.Flask(__name__)
    app.config.from_object(config_class)
    db.init_app(app)

    from reports.web import views

    app.register_blueprint(views.bp, url_prefix="/reports")
    return app
