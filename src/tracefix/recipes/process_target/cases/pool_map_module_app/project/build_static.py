"""Render every page to static HTML, one process per core."""

import multiprocessing

from app import render_static_page

TITLES = ["install", "usage", "faq"]

if __name__ == "__main__":
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pages = dict(pool.map(render_static_page, TITLES))
    print(f"built {len(pages)} pages")
