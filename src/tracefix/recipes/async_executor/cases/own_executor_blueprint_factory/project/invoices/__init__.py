from flask import Flask


def create_app(config=None):
    app = Flask(__name__)
    app.config.from_mapping(COMPANY_NAME="Acme Ltd", VAT_RATE=0.2)
    if config:
        app.config.from_mapping(config)

    from invoices.views import bp

    app.register_blueprint(bp)
    return app
