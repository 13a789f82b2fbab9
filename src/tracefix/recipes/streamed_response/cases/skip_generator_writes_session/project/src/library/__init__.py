from flask import Flask


def create_app(**overrides):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="dev", BOOKS=["Dune", "Emma", "Ulysses"])
    app.config.update(overrides)

    from library.catalogue import bp

    app.register_blueprint(bp)
    return app
