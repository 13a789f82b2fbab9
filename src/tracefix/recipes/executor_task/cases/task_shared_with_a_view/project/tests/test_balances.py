import pytest

from ledger import create_app
from ledger.models import Account
from ledger.models import Entry
from ledger.models import db


@pytest.fixture
def client():
    app = create_app("ledger.config.TestingConfig")
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.add_all([Account(id=1), Account(id=2)])
        db.session.add_all([Entry(account_id=1, amount=5), Entry(account_id=2, amount=7)])
        db.session.commit()
    return app.test_client()


def test_recompute_one(client):
    assert client.post("/accounts/1/recompute").get_json() == {"balance": 5}


def test_recompute_all(client):
    assert client.post("/accounts/recompute").get_json() == {"balances": [5, 7]}
