import pytest

from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import Customer
from dashboard.models import Order


@pytest.fixture
def app(tmp_path):
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}"}
    )
    with app.app_context():
        db.create_all()
        ada = Customer(name="Ada")
        db.session.add(ada)
        db.session.flush()
        db.session.add_all(
            [Order(customer_id=ada.id, total=10), Order(customer_id=ada.id, total=5)]
        )
        db.session.commit()
    yield app


@pytest.fixture
def client(app):
    return app.test_client()
