from app import app
from app import open_todos


def test_add_todo():
    response = app.test_client().post("/todos", json={"title": "write tests"})
    assert response.status_code == 201


def test_new_todos_are_open():
    app.test_client().post("/todos", json={"title": "ship it"})
    with app.app_context():
        titles = [todo.title for todo in open_todos()]
        assert "ship it" in titles
