from flask import current_app


def reload_settings(app, signum, frame):
    """SIGHUP: read settings.cfg again, so operators change settings without a restart."""
    with app.app_context():
        current_app.config.from_pyfile("settings.cfg", silent=True)
        current_app.logger.info("settings reloaded")
