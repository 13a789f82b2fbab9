"""Print every product's link for the newsletter: python -m scripts.export_links"""

from shop.catalog import product_links


def main():
    for slug, link in product_links().items():
        print(f"{slug}: {link}")


if __name__ == "__main__":
    main()
