from flask import Flask


def create_app(config=None):
    app = Flask(__name__)
    app.config.from_mapping(PRICES={"tea": 4.5, "mug": 9.0, "kettle": 35.0}, CURRENCY="EUR")
    if config:
        app.config.from_mapping(config)

    from storefront import views

    app.register_blueprint(views.bp)
    return app
