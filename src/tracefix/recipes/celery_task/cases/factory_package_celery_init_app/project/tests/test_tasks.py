from flaskr.tasks import count_users


def test_start_count_from_a_request(client):
    response = client.post("/users/count")
    assert response.status_code == 202


def test_count_users_runs_on_its_own(app):
    assert count_users.delay().get() == 0
