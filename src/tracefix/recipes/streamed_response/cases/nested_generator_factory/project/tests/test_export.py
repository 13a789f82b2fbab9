import pytest

from orders import create_app
from orders import db
from orders.models import Order


@pytest.fixture
def client():
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite:///:memory:"})
    with app.app_context():
        db.create_all()
        db.session.add_all([Order(status="paid", total=12), Order(status="open", total=3)])
        db.session.commit()
    return app.test_client()


def test_export_streams_the_paid_orders(client):
    response = client.get("/orders.csv?sep=;")
    assert response.get_data(as_text=True) == "id,total\n1;12\n"
