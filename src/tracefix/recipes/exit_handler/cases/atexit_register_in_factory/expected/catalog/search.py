import json
from pathlib import Path

from flask import current_app

#: Documents added since the index file was last written.
unsaved = []


def add_document(document):
    unsaved.append(document)


def close_search_index(app):
    with app.app_context():
        path = Path(current_app.config["SEARCH_INDEX_PATH"])
        with path.open("a") as index:
            for document in unsaved:
                index.write(json.dumps(document) + "\n")
        current_app.logger.info("search index: %d documents written", len(unsaved))
