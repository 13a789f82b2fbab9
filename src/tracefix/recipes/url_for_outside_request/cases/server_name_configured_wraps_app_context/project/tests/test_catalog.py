from shop import create_app
from shop.catalog import product_links


def test_links_are_absolute():
    app = create_app("testing")
    with app.app_context():
        assert product_links()["tea"] == "https://shop.example.com/products/tea"
