from inventory.services import add_item
from inventory.services import total_stock


def test_total_stock_counts_every_item(app):
    with app.app_context():
        add_item("bolt", 3)
        add_item("nut", 4)
        assert total_stock() == 7
