import atexit

from flask import Flask

from catalog.search import close_search_index


def create_app(config=None):
    app = Flask(__name__)
    app.config.from_mapping(SEARCH_INDEX_PATH="search-index.jsonl")
    if config:
        app.config.from_mapping(config)

    from catalog import views

    app.register_blueprint(views.bp)
    atexit.register(close_search_index, app)
    return app
