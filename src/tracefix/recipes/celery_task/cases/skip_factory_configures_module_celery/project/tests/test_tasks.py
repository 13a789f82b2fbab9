from tasks import expire_subscriptions


def test_nothing_to_expire(app):
    assert expire_subscriptions.delay().get() == 0
