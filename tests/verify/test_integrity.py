"""The static checks on a patch: tests keep their assertions, contexts are popped."""

from __future__ import annotations

import textwrap

import pytest

from tracefix.diagnose.project import Project
from tracefix.patch import FileChange
from tracefix.verify.integrity import check_context_balance
from tracefix.verify.integrity import check_test_integrity

TEST_FILE = """\
import pytest
from app import create_app, db
from app.models import User


def test_user_creation(app):
    user = User(name="Test")
    db.session.add(user)
    db.session.commit()
    assert user.id is not None


class TestViews:
    def test_list_users(self, client):
        response = client.get("/users")
        assert response.status_code == 200
        with pytest.raises(KeyError):
            response.get_json()["missing"]
"""


def integrity(after: str, before: str = TEST_FILE, path: str = "tests/test_users.py"):
    after = textwrap.dedent(after)
    change = FileChange(path, before, after)
    return check_test_integrity([change], Project({path: before}))


def edit(old: str, new: str) -> str:
    assert old in TEST_FILE
    return TEST_FILE.replace(old, new)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(
            edit("    assert user.id is not None\n", ""),
            "tests/test_users.py::test_user_creation: the fix removes or edits "
            "`assert user.id is not None`",
            id="deleted assert",
        ),
        pytest.param(
            edit("assert response.status_code == 200", "assert response.status_code in (200, 500)"),
            "tests/test_users.py::TestViews.test_list_users: the fix removes or edits "
            "`assert response.status_code == 200`",
            id="edited assert",
        ),
        pytest.param(
            edit("        with pytest.raises(KeyError):\n            response", "        response"),
            "tests/test_users.py::TestViews.test_list_users: the fix removes or edits "
            "`pytest.raises(KeyError)`",
            id="removed pytest.raises",
        ),
        pytest.param(
            edit(
                "def test_user_creation",
                "@pytest.mark.skip(reason='flaky')\ndef test_user_creation",
            ),
            "tests/test_users.py: the fix adds `pytest.mark.skip(reason='flaky')`",
            id="added skip marker",
        ),
        pytest.param(
            edit("class TestViews:", "@pytest.mark.xfail\nclass TestViews:"),
            "tests/test_users.py: the fix adds `pytest.mark.xfail`",
            id="added bare xfail marker",
        ),
        pytest.param(
            edit(
                '    user = User(name="Test")\n',
                '    pytest.skip("later")\n    user = User(name="Test")\n',
            ),
            "tests/test_users.py: the fix adds `pytest.skip('later')`",
            id="added pytest.skip call",
        ),
        pytest.param(
            edit("def test_user_creation(app):", "def _user_creation(app):"),
            "tests/test_users.py::test_user_creation: the fix removes this test function",
            id="renamed test no longer collected",
        ),
        pytest.param(
            "def broken(:\n",
            "tests/test_users.py: the fix leaves this test file unparsable",
            id="unparsable",
        ),
    ],
)
def test_weakened_tests_are_problems(after, expected):
    assert integrity(after) == [expected]


def test_reindented_assert_in_a_new_with_block_is_fine():
    after = edit(
        """    user = User(name="Test")
    db.session.add(user)
    db.session.commit()
    assert user.id is not None
""",
        """    with app.app_context():
        user = User(name="Test")
        db.session.add(user)
        db.session.commit()
        assert user.id is not None
""",
    )
    assert integrity(after) == []


def test_new_test_and_new_fixture_are_fine():
    after = TEST_FILE + textwrap.dedent(
        """

        @pytest.fixture
        def ctx(app):
            with app.app_context():
                yield


        def test_more(ctx):
            assert 1 + 1 == 2
        """
    )
    assert integrity(after) == []


def test_non_test_files_are_not_checked_for_assertions():
    before = "def helper():\n    assert True\n"
    assert integrity("def helper():\n    pass\n", before=before, path="app/util.py") == []


def test_changing_pytest_configuration_is_a_problem():
    before = "[project]\nname = 'x'\n[tool.pytest.ini_options]\naddopts = '-q'\n"
    after = before.replace("'-q'", "'-q --deselect tests/test_users.py'")
    assert integrity(after, before=before, path="pyproject.toml") == [
        "pyproject.toml: the fix changes pytest's configuration"
    ]
    assert integrity(before.replace("'x'", "'y'"), before=before, path="pyproject.toml") == []


SCRIPT = """\
from app import create_app, db
from app.models import User

app = create_app()
db.session.add(User(name="Admin"))
db.session.commit()
"""


def balance(after: str, before: str = SCRIPT) -> list[str]:
    return check_context_balance([FileChange("scripts/seed_db.py", before, textwrap.dedent(after))])


def test_push_without_pop_is_a_problem():
    after = SCRIPT.replace("app = create_app()\n", "app = create_app()\napp.app_context().push()\n")
    assert balance(after) == [
        "scripts/seed_db.py:5: `app.app_context().push()` has no matching pop(); "
        "use `with app.app_context():` instead"
    ]


def test_named_context_pushed_without_pop_is_a_problem():
    after = SCRIPT.replace(
        "app = create_app()\n", "app = create_app()\nctx = app.test_request_context()\nctx.push()\n"
    )
    assert balance(after) == [
        "scripts/seed_db.py:6: `ctx.push()` has no matching pop(); "
        "use `with app.app_context():` instead"
    ]


@pytest.mark.parametrize(
    "after",
    [
        pytest.param(
            """\
            from app import create_app, db
            from app.models import User

            app = create_app()
            ctx = app.app_context()
            ctx.push()
            try:
                db.session.add(User(name="Admin"))
                db.session.commit()
            finally:
                ctx.pop()
            """,
            id="push with pop in finally",
        ),
        pytest.param(
            """\
            from app import create_app, db
            from app.models import User

            app = create_app()
            with app.app_context():
                db.session.add(User(name="Admin"))
                db.session.commit()
            """,
            id="with block",
        ),
    ],
)
def test_balanced_contexts_are_fine(after):
    assert balance(after) == []


def test_a_push_that_was_already_there_is_not_the_fix_s_problem():
    before = SCRIPT.replace(
        "app = create_app()\n", "app = create_app()\napp.app_context().push()\n"
    )
    assert balance(before + "print('done')\n", before=before) == []


#: Flasky's tests without their push: ``tearDown`` still pops what ``setUp`` no longer pushes.
UNITTEST = """\
import unittest

from app import create_app


class BasicsTestCase(unittest.TestCase):
    def setUp(self):
        self.app = create_app("testing")
        self.app_context = self.app.app_context()

    def tearDown(self):
        self.app_context.pop()
"""


def test_a_push_the_existing_pop_was_waiting_for_is_balanced():
    pushed = UNITTEST.replace(
        "app_context()\n", "app_context()\n        self.app_context.push()\n", 1
    )
    assert balance(pushed, before=UNITTEST) == []
    twice = pushed.replace("push()\n", "push()\n        self.app_context.push()\n")
    assert balance(twice, before=UNITTEST) == [
        "scripts/seed_db.py:11: `self.app_context.push()` has no matching pop(); "
        "use `with app.app_context():` instead"
    ]
