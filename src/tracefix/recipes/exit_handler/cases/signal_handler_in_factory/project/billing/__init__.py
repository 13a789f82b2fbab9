import signal

from flask import Flask

from billing.settings import reload_settings


def create_app():
    app = Flask(__name__)
    app.config.from_pyfile("settings.cfg", silent=True)
    app.config.setdefault("INVOICE_PREFIX", "INV")

    from billing import views

    app.register_blueprint(views.bp)
    signal.signal(signal.SIGHUP, reload_settings)
    return app
