"""Model tests."""

import pytest

from shop.database import db
from shop.models import Product


def test_repr_names_the_product():
    assert repr(Product(name="tea")) == "<Product tea>"


@pytest.mark.usefixtures("db")
class TestProduct:
    def test_get_by_id(self):
        product = Product(name="tea", price=3)
        product.save()
        assert Product.get_by_id(product.id) == product

    def test_price_defaults_to_zero(self):
        product = Product.create(name="cake")
        assert product.price == 0


def test_products_are_listed(client, db):
    Product.create(name="tea")
    assert client.get("/products").get_json() == ["tea"]


def test_products_list_by_name():
    db.session.add(Product(name="scone"))
    db.session.add(Product(name="jam"))
    db.session.commit()
    names = db.session.scalars(db.select(Product.name).order_by(Product.name)).all()
    assert names == ["jam", "scone"]
