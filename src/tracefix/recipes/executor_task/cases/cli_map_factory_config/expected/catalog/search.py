import json

from flask import current_app

from catalog.models import Product
from catalog.models import db


def index_product(app, product_id):
    """Write one product's search document; returns 1 once it is indexed."""
    with app.app_context():
        product = db.session.get(Product, product_id)
        words = sorted(set(f"{product.name} {product.description}".lower().split()))
        document = {"id": product.id, "words": words}
        current_app.logger.info("indexed product %s", product.id)
        with open(current_app.config["SEARCH_INDEX_PATH"], "a") as index:
            index.write(json.dumps(document) + "\n")
        return 1
