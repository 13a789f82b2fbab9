from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

db = SQLAlchemy()
csrf = CSRFProtect()


def create_app(config_object="blog.settings.DevConfig"):
    app = Flask(__name__)
    app.config.from_object(config_object)
    db.init_app(app)
    csrf.init_app(app)

    from blog.views import bp

    app.register_blueprint(bp)
    return app
