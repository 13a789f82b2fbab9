from flask import Flask
from flask import render_template_string
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///products.db"
db = SQLAlchemy(app)
page_cache = {}

PRODUCT_PAGE = "<h1>{{ product.name }}</h1>"


class Product(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False)


def render_product_page(product_id):
    product = db.session.get(Product, product_id)
    page_cache[product_id] = render_template_string(PRODUCT_PAGE, product=product)


@app.get("/products/<int:product_id>")
def product_page(product_id):
    return page_cache.get(product_id) or "not cached yet"
