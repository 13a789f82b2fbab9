"""Print every product's link for the newsletter: python -m scripts.export_links"""

import os

from shop import create_app
from shop.catalog import product_links


def main():
    for slug, link in product_links().items():
        print(f"{slug}: {link}")


if __name__ == "__main__":
    app = create_app(os.getenv("FLASK_CONFIG") or "default")
    with app.app_context():
        main()
