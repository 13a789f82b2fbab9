import unittest

from app import db
from app.models import User


class UserModelCase(unittest.TestCase):
    def test_no_users_yet(self):
        self.assertIsNone(db.session.get(User, 1))


if __name__ == "__main__":
    unittest.main()
