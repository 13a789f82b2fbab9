from pricing import db
from pricing.models import Price

PRICES = {}


def load_prices():
    for price in db.session.scalars(db.select(Price)):
        PRICES[price.sku] = price.cents
