"""Write sitemap.txt: python build_sitemap.py"""

from flask import url_for

from app import app

PAGES = ["install", "tutorial", "deploy"]

with app.test_request_context():
    links = [url_for("index")] + [url_for("guide", slug=slug) for slug in PAGES]
    with open("sitemap.txt", "w") as sitemap:
        sitemap.write("\n".join(links) + "\n")
    print(f"{len(links)} links")
