from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config.from_mapping(PRICES={"tea": 4.5, "mug": 9.0})

    from shop import views

    app.register_blueprint(views.bp)
    return app
