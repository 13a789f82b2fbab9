from app import db
from app.models import Role


def test_roles_are_listed(app, client):
    db.session.add_all([Role(name="User"), Role(name="Administrator")])
    db.session.commit()
    assert client.get("/roles").get_json() == ["Administrator", "User"]
