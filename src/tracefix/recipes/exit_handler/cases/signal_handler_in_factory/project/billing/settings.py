from flask import current_app


def reload_settings(signum, frame):
    """SIGHUP: read settings.cfg again, so operators change settings without a restart."""
    current_app.config.from_pyfile("settings.cfg", silent=True)
    current_app.logger.info("settings reloaded")
