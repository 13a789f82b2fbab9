from shop.extensions import db
from shop.extensions import scheduler
from shop.models import Product
from shop.models import RestockRequest


@scheduler.task("cron", id="request_restock", hour=6)
def request_restock():
    """Ask the warehouse for every product that ran out."""
    empty = db.session.scalars(db.select(Product).where(Product.stock == 0)).all()
    for product in empty:
        db.session.add(RestockRequest(product_id=product.id))
    db.session.commit()
