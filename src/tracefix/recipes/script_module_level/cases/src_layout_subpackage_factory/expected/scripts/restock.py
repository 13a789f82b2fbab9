"""Top up every item below the minimum stock level."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from inventory.extensions import db  # noqa: E402
from inventory.models import Item  # noqa: E402
from inventory.web import create_app

MINIMUM = 10

app = create_app()

with app.app_context():
    db.create_all()

    low = db.session.scalars(db.select(Item).where(Item.quantity < MINIMUM)).all()
    for item in low:
        item.quantity = MINIMUM
    db.session.commit()

    print(f"restocked {len(low)} items")
