"""Render every product page once after a deploy, a few at a time."""

import eventlet

from app import Product
from app import app
from app import db
from app import page_cache
from app import render_product_page

with app.app_context():
    db.create_all()
    if not db.session.query(Product).count():
        db.session.add_all([Product(name="Tea"), Product(name="Mug")])
        db.session.commit()
    product_ids = [product.id for product in db.session.query(Product)]

for thread in [eventlet.spawn(render_product_page, pid) for pid in product_ids]:
    thread.wait()
print(f"warmed {len(page_cache)} pages")
