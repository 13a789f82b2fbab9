"""Fixtures: a fresh app, pushed for the test, and a database with its tables."""

import logging

import pytest

from shop.app import create_app
from shop.database import db as _db


@pytest.fixture
def app():
    _app = create_app("tests.settings")
    _app.logger.setLevel(logging.CRITICAL)
    ctx = _app.test_request_context()
    ctx.push()

    yield _app

    ctx.pop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    _db.app = app
    with app.app_context():
        _db.create_all()

    yield _db

    _db.session.close()
    _db.drop_all()
