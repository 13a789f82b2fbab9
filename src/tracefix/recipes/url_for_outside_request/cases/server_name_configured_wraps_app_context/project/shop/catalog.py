from flask import Blueprint, url_for

catalog = Blueprint("catalog", __name__)

PRODUCTS = {"tea": "Green tea", "mug": "Blue mug"}


@catalog.get("/products/<slug>")
def product(slug):
    return {"name": PRODUCTS[slug]}


def product_links():
    return {slug: url_for("catalog.product", slug=slug) for slug in PRODUCTS}
