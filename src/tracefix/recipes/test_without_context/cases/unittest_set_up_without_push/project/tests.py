#!/usr/bin/env python
import unittest

from app import create_app, db
from app.models import User
from config import Config


class TestConfig(Config):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"


class UserModelCase(unittest.TestCase):
    def setUp(self):
        self.app = create_app(TestConfig)
        db.create_all()

    def tearDown(self):
        db.session.remove()
        db.drop_all()

    def test_user_is_saved(self):
        db.session.add(User(username="susan"))
        db.session.commit()
        self.assertEqual(db.session.scalar(db.select(db.func.count(User.id))), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
