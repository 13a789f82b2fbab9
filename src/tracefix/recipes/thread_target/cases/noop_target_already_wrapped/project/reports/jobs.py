from flask import current_app


def build_report(name):
    with current_app.app_context():
        current_app.logger.warning("building report %s", name)
