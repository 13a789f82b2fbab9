from shop import Product
from shop import price_with_vat


def test_price_with_vat(app):
    assert price_with_vat(Product(price_cents=999)) == 1199
