"""Finding and running the project's tests, and telling a regression from an old failure."""

from __future__ import annotations

import sys

import pytest

from tracefix.verify.tests import ERROR
from tracefix.verify.tests import FAILED
from tracefix.verify.tests import PASSED
from tracefix.verify.tests import SKIPPED
from tracefix.verify.tests import TestRun
from tracefix.verify.tests import compare
from tracefix.verify.tests import find_test_command
from tracefix.verify.tests import run_tests

PY = sys.executable

SUITE = {
    "pyproject.toml": """\
        [tool.pytest.ini_options]
        filterwarnings = ["error"]
        """,
    "tests/test_mixed.py": """\
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("fixture fails")

        def test_passes():
            assert True

        def test_fails():
            assert 1 == 2

        def test_errors(broken):
            pass

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass

        @pytest.mark.parametrize("n", [1, 2])
        def test_param(n):
            assert n == 1

        class TestGroup:
            def test_in_class(self):
                assert True
        """,
    "tests/sub/test_other.py": "def test_deep():\n    pass\n",
}


@pytest.mark.parametrize(
    ("files", "found"),
    [
        pytest.param({"app.py": "x = 1\n"}, False, id="no tests"),
        pytest.param({"pytest.ini": "[pytest]\n"}, True, id="pytest.ini"),
        pytest.param({"pyproject.toml": "[tool.pytest.ini_options]\n"}, True, id="pyproject"),
        pytest.param(
            {"pyproject.toml": "[tool.ruff]\nline-length = 9\n"},
            False,
            id="pyproject without pytest",
        ),
        pytest.param({"setup.cfg": "[tool:pytest]\naddopts = -q\n"}, True, id="setup.cfg"),
        pytest.param({"tox.ini": "[pytest]\n"}, True, id="tox.ini"),
        pytest.param({"tox.ini": "[tox]\nenvlist = py311\n"}, False, id="tox.ini without pytest"),
        pytest.param({"conftest.py": ""}, True, id="conftest"),
        pytest.param({"pkg/test_a.py": ""}, True, id="test_ file"),
        pytest.param({"pkg/a_test.py": ""}, True, id="_test file"),
    ],
)
def test_detects_pytest(make_repo, files, found):
    root = make_repo(files)
    command = find_test_command(root, python=PY)
    if not found:
        assert command is None
    else:
        assert command is not None
        argv, cwd = command
        assert argv[:3] == (PY, "-m", "pytest")
        assert "no:cacheprovider" in argv
        assert cwd == root


def test_a_top_level_unittest_module_runs_with_unittest(make_repo):
    """microblog's layout: one ``tests.py`` of ``unittest.TestCase`` classes, no pytest."""
    tests = (
        "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_x(self):\n        pass\n"
    )
    root = make_repo({"app/__init__.py": "", "tests.py": tests})
    assert find_test_command(root, python=PY) == ((PY, "-m", "unittest"), root)
    run = run_tests([PY, "-m", "unittest"], cwd=root, project_root=root)
    assert run.ok and "Ran 1 test" in run.output_tail


def test_a_top_level_module_named_test_without_unittest_is_not_a_suite(make_repo):
    root = make_repo({"testing_config.py": "DEBUG = True\n", "tests.py": "print('hi')\n"})
    assert find_test_command(root, python=PY) is None


def test_pytest_runs_from_the_nearest_configured_folder(make_repo):
    root = make_repo({"service/pytest.ini": "[pytest]\n", "service/app/x.py": ""})
    argv, cwd = find_test_command(root, python=PY, cwd_in_repo="service/app")
    assert cwd == root / "service"


def test_test_cmd_override_is_used_as_given(make_repo):
    root = make_repo({"app.py": ""})
    assert find_test_command(root, python=PY, test_cmd=["make", "check"]) == (
        ("make", "check"),
        root,
    )


def test_outcomes_per_test_from_a_real_pytest_run(make_repo):
    root = make_repo(SUITE)
    argv, cwd = find_test_command(root, python=PY)
    run = run_tests(argv, cwd=cwd, project_root=root, timeout=120)
    assert run.returncode == 1
    assert dict(run.outcomes) == {
        "tests/test_mixed.py::test_passes": PASSED,
        "tests/test_mixed.py::test_fails": FAILED,
        "tests/test_mixed.py::test_errors": ERROR,
        "tests/test_mixed.py::test_skipped": SKIPPED,
        "tests/test_mixed.py::test_param[1]": PASSED,
        "tests/test_mixed.py::test_param[2]": FAILED,
        "tests/test_mixed.py::TestGroup::test_in_class": PASSED,
        "tests/sub/test_other.py::test_deep": PASSED,
    }
    assert "2 failed" in run.output_tail
    assert run.seconds > 0
    assert not (root / ".pytest_cache").exists()


def test_no_tests_collected_is_not_a_failure(make_repo):
    root = make_repo({"pytest.ini": "[pytest]\n"})
    argv, cwd = find_test_command(root, python=PY)
    run = run_tests(argv, cwd=cwd, project_root=root, timeout=60)
    assert run.returncode == 5
    assert run.ok
    assert run.outcomes == {}


def test_a_non_pytest_test_cmd_gives_its_exit_code_only(make_repo):
    root = make_repo({"app.py": ""})
    run = run_tests([PY, "-c", "import sys; sys.exit(3)"], cwd=root, project_root=root)
    assert (run.returncode, dict(run.outcomes), run.ok) == (3, {}, False)


def test_a_pytest_test_cmd_gets_per_test_outcomes(make_repo):
    root = make_repo({"test_one.py": "def test_one():\n    pass\n"})
    run = run_tests([PY, "-m", "pytest", "test_one.py"], cwd=root, project_root=root)
    assert dict(run.outcomes) == {"test_one.py::test_one": PASSED}


def made_run(outcomes: dict[str, str], returncode: int = 0) -> TestRun:
    return TestRun(("pytest",), returncode, outcomes, 0.1, "")


def test_compare_names_only_tests_that_passed_before():
    before = made_run(
        {"a": PASSED, "b": PASSED, "c": FAILED, "d": PASSED, "e": PASSED, "f": ERROR}, returncode=1
    )
    after = made_run(
        {"a": PASSED, "b": FAILED, "c": FAILED, "e": ERROR, "f": ERROR, "g": FAILED}, returncode=1
    )
    assert compare(before, after) == ["b", "d", "e"]


def test_compare_counts_a_test_that_now_skips():
    assert compare(made_run({"a": PASSED}), made_run({"a": SKIPPED})) == ["a"]


def test_compare_without_outcomes_uses_the_exit_code():
    passing = TestRun(("make", "check"), 0, {}, 0.1, "")
    failing = TestRun(("make", "check"), 2, {}, 0.1, "")
    assert compare(passing, failing) == ["make check"]
    assert compare(failing, failing) == []
    assert compare(failing, passing) == []


def test_the_reported_command_can_be_run_again(make_repo):
    root = make_repo({"test_one.py": "def test_one():\n    pass\n"})
    argv, cwd = find_test_command(root, python=PY)
    run = run_tests(argv, cwd=cwd, project_root=root)
    assert run.command == argv
    assert not any("junitxml" in arg for arg in run.command)


def test_a_suite_judged_by_exit_code_does_not_read_as_no_tests():
    from tracefix.cli.render import _tests_summary

    unittest_run = TestRun((PY, "-m", "unittest"), 0, {}, 1.0, "")
    assert _tests_summary(unittest_run) == "exit 0"
    empty_pytest = TestRun((PY, "-m", "pytest", "-q"), 5, {}, 1.0, "")
    assert _tests_summary(empty_pytest) == "no tests"
