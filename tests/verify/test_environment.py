"""The project's own environment: real virtualenvs built by real pip from the configured index.

Three environments are built (about five seconds each, most of it ``python -m venv``): a Flask
project's, the same project's after its requirements change, and one whose install fails.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tracefix.errors import ProjectEnvironmentError
from tracefix.git import git
from tracefix.verify.environment import MARKER
from tracefix.verify.environment import EnvironmentCache
from tracefix.verify.environment import ProjectEnvironment
from tracefix.verify.environment import install_plan
from tracefix.verify.environment import project_python

SHOP = {
    "requirements.txt": "flask\n-e .\n",
    "requirements-dev.txt": "-r requirements.txt\niniconfig  # for the tests\n",
    "requirements-prod.txt": "gunicorn\n",
    "pyproject.toml": """\
        [project]
        name = "shop"
        version = "1.0"
        dependencies = ["six"]
        """,
    "shop/__init__.py": """\
        import flask
        import six

        app = flask.Flask(__name__)
        """,
    "tests/test_shop.py": """\
        from shop import app


        def test_app():
            assert app.name == "shop"
        """,
}


def write_project(root: Path, files: dict[str, str], *, commit: bool = False) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    if commit:
        git("init", "--quiet", "--initial-branch=main", cwd=root)
        git("add", "--all", cwd=root)
        git(
            "-c",
            "user.name=tests",
            "-c",
            "user.email=tests@tracefix.invalid",
            "commit",
            "--quiet",
            "-m",
            "shop",
            cwd=root,
        )
    return root


def run_in(env: ProjectEnvironment, code: str, *, tree: Path | None = None) -> str:
    variables = env.variables(tree) if tree is not None else None
    result = subprocess.run(
        [str(env.python), "-c", code],
        capture_output=True,
        text=True,
        env=variables,
        cwd=tree.parent if tree is not None else None,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("environments")


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    return write_project(tmp_path_factory.mktemp("checkout") / "shop", SHOP, commit=True)


@pytest.fixture(scope="module")
def shop_env(cache_dir, shop) -> ProjectEnvironment:
    return EnvironmentCache(cache_dir, timeout=300).environment(shop)


def test_the_environment_has_the_projects_requirements_but_not_the_project(shop_env, shop):
    assert shop_env.built
    assert shop_env.venv is not None and (shop_env.venv / MARKER).is_file()
    assert shop_env.python == shop_env.venv / "bin" / "python"
    assert run_in(shop_env, "import flask, six, iniconfig, pytest; print('ok')") == "ok"
    missing = subprocess.run(
        [str(shop_env.python), "-c", "import shop"], capture_output=True, cwd="/", timeout=60
    )
    assert missing.returncode != 0, "the project itself must not be installed in the cache"
    imported = run_in(shop_env, "import shop; print(shop.__file__)", tree=shop)
    assert imported == str(shop / "shop" / "__init__.py")


def test_production_only_requirements_are_left_out(shop_env):
    result = subprocess.run(
        [str(shop_env.python), "-c", "import gunicorn"], capture_output=True, timeout=60
    )
    assert result.returncode != 0


def test_the_variables_run_the_environments_commands_and_the_trees_code(shop_env, shop):
    variables = shop_env.variables(shop, {"PATH": "/usr/bin:/bin", "PYTHONHOME": "/elsewhere"})
    assert shutil.which("flask", path=variables["PATH"]) == str(shop_env.venv / "bin" / "flask")
    assert variables["VIRTUAL_ENV"] == str(shop_env.venv)
    assert variables["PYTHONPATH"] == str(shop)
    assert "PYTHONHOME" not in variables
    (shop / "src").mkdir()
    try:
        paths = shop_env.variables(shop)["PYTHONPATH"].split(os.pathsep)
        assert paths == [str(shop / "src"), str(shop)]
    finally:
        (shop / "src").rmdir()


def test_the_same_dependencies_reuse_the_environment_without_building(
    shop_env, cache_dir, shop, tmp_path
):
    marker = shop_env.venv / MARKER
    built_at = marker.stat().st_mtime_ns
    started = time.perf_counter()
    again = EnvironmentCache(cache_dir).environment(shop)
    assert time.perf_counter() - started < 2
    other_release = write_project(tmp_path / "shop", {**SHOP, "shop/views.py": "VIEWS = []\n"})
    elsewhere = EnvironmentCache(cache_dir).environment(other_release)
    assert again == elsewhere == ProjectEnvironment(shop_env.python, shop_env.venv, shop_env.key)
    assert marker.stat().st_mtime_ns == built_at
    assert project_python(shop, cache_dir=cache_dir) == str(shop_env.python)


def test_changed_requirements_build_a_new_environment_once_for_jobs_at_once(
    shop_env, cache_dir, tmp_path
):
    changed = write_project(
        tmp_path / "shop",
        {**SHOP, "requirements-dev.txt": SHOP["requirements-dev.txt"] + "six>=1.10\n"},
    )
    results: list[ProjectEnvironment] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            results.append(EnvironmentCache(cache_dir, timeout=300).environment(changed))
        except BaseException as exc:
            errors.append(exc)

    jobs = [threading.Thread(target=job) for _ in range(2)]
    for thread in jobs:
        thread.start()
    for thread in jobs:
        thread.join()
    assert not errors
    first, second = results
    assert first.key == second.key != shop_env.key
    assert first.venv == second.venv != shop_env.venv
    assert sorted([first.built, second.built]) == [False, True]
    assert len(list((cache_dir / "builds").glob(f"{first.key}-*"))) == 1
    assert (shop_env.venv / MARKER).is_file(), "the other release's environment stays"


def test_a_failed_install_leaves_nothing_and_says_what_pip_said(tmp_path, monkeypatch):
    """The index settings come from the environment: here they leave pip nowhere to look."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-wheels"))
    (tmp_path / "no-wheels").mkdir()
    project = write_project(tmp_path / "app", {"requirements.txt": "six\n", "app.py": ""})
    cache_dir = tmp_path / "cache"
    with pytest.raises(ProjectEnvironmentError) as caught:
        EnvironmentCache(cache_dir, timeout=300).environment(project)
    message = caught.value.message
    assert message.startswith("pip could not install the project's requirements (requirements.txt)")
    assert "No matching distribution found for six" in message
    assert caught.value.exit_code == 20
    assert not list((cache_dir / "builds").iterdir())
    assert not [p for p in cache_dir.iterdir() if p.is_symlink()]


def test_an_interpreter_named_in_the_settings_is_used_as_it_is(tmp_path, cache_dir):
    project = write_project(tmp_path / "app", {"app.py": ""})
    env = EnvironmentCache(cache_dir).environment(project, python=sys.executable)
    assert env.python == Path(os.path.abspath(sys.executable))
    assert env.key is None and not env.built
    venv = Path(sys.prefix) if sys.prefix != sys.base_prefix else None
    assert env.venv == venv
    relative = EnvironmentCache(cache_dir).environment(project, python="python3")
    assert relative.python == Path(shutil.which("python3") or "")


@pytest.mark.parametrize(
    ("python", "words"),
    [
        ("venv/bin/python", r"app/venv/bin/python does not exist"),
        ("no-such-python3.99", "is not on PATH"),
    ],
)
def test_an_interpreter_that_does_not_run_is_a_clear_error(tmp_path, python, words):
    project = write_project(tmp_path / "app", {"app.py": ""})
    with pytest.raises(ProjectEnvironmentError, match=words):
        EnvironmentCache(tmp_path / "cache").environment(project, python=python)


def test_the_plan_reads_every_source_of_test_requirements(tmp_path):
    root = write_project(
        tmp_path / "app",
        {
            "requirements.txt": "flask>=3  # web\n-e .[async]\n-r requirements/base.txt\n",
            "requirements/base.txt": "click\\\n>=8\n-c constraints.txt\n./libs/helper\n",
            "requirements/constraints.txt": "click<9\n",
            "requirements/production.txt": "gunicorn\n",
            "test-requirements.txt": "--pre\npytest-flask\n",
            "libs/helper/setup.py": "",
            "pyproject.toml": """\
                [project]
                name = "My_App"
                dependencies = ["six"]
                [project.optional-dependencies]
                dev = ["my-app[test]", "ruff"]
                test = ["iniconfig"]
                docs = ["sphinx"]
                async = ["asgiref"]
                """,
            "tests/test_app.py": "",
        },
    )
    plan = install_plan(root)
    assert plan.requirement_files == (
        "requirements.txt",
        "test-requirements.txt",
        "requirements/base.txt",
    )
    assert plan.requirements == ("six", "ruff", "iniconfig", "asgiref")
    assert plan.add_pytest, "pytest-flask is not pytest"
    assert plan.files["requirements.txt"] == ("flask>=3", "-r \0requirements/base.txt")
    assert plan.files["requirements/base.txt"] == (
        "click>=8",
        "-c \0requirements/constraints.txt",
        str(root / "libs" / "helper"),
    )
    arguments = plan.pip_arguments(tmp_path)
    assert arguments[-5:] == ["six", "ruff", "iniconfig", "asgiref", "pytest"]
    flask, include = Path(arguments[1]).read_text().splitlines()
    assert flask == "flask>=3" and include.startswith("-r /")
    base = Path(include.removeprefix("-r ")).read_text().splitlines()
    assert base[0] == "click>=8" and Path(base[1].removeprefix("-c ")).read_text() == "click<9\n"


def test_the_plan_reads_setup_cfg_and_a_literal_setup_py(tmp_path):
    cfg = write_project(
        tmp_path / "cfg",
        {
            "setup.cfg": """\
                [metadata]
                name = cfg-app
                [options]
                install_requires =
                    flask
                    importlib-metadata; python_version < "3.8"
                [options.extras_require]
                testing = pytest
                """,
        },
    )
    plan = install_plan(cfg)
    assert plan.requirements == ("flask", 'importlib-metadata; python_version < "3.8"', "pytest")
    assert not plan.add_pytest
    py = write_project(
        tmp_path / "py",
        {
            "setup.py": """\
                from setuptools import setup

                setup(name="py", install_requires=["six"], extras_require={"dev": ["iniconfig"]})
                """,
            "test_py.py": "",
        },
    )
    assert install_plan(py).requirements == ("six", "iniconfig")
    assert install_plan(py).add_pytest


def test_a_project_without_tests_or_requirements_needs_nothing(tmp_path):
    assert install_plan(write_project(tmp_path / "app", {"app.py": ""})).empty


def test_the_cache_key_follows_the_requirements_not_the_rest(tmp_path, cache_dir):
    cache = EnvironmentCache(cache_dir)
    base = {"requirements.txt": "six\n", "pyproject.toml": "[tool.ruff]\nline-length = 99\n"}
    keys = {
        name: cache._key(install_plan(write_project(tmp_path / name, files)))
        for name, files in {
            "same": base,
            "other-tool-settings": {**base, "pyproject.toml": "[tool.ruff]\nline-length = 80\n"},
            "other-requirements": {**base, "requirements.txt": "six==1.16.0\n"},
        }.items()
    }
    assert keys["same"] == keys["other-tool-settings"] != keys["other-requirements"]


def test_an_include_outside_the_project_is_refused(tmp_path):
    (tmp_path / "secrets.txt").write_text("x\n")
    root = write_project(tmp_path / "app", {"requirements.txt": "-r ../secrets.txt\n"})
    with pytest.raises(ProjectEnvironmentError, match=r"\.\./secrets.txt is not a file of the"):
        install_plan(root)


def test_tracefix_run_verifies_a_fix_in_the_project_environment(shop_env, cache_dir, tmp_path):
    """The whole engine on a checkout: the command and the tests run with the environment's
    Flask, and import the project from the worktrees through ``PYTHONPATH``."""
    from tracefix.pipeline import RunOptions
    from tracefix.pipeline import run

    files = {
        **SHOP,
        "scripts/report.py": """\
            from flask import current_app

            from shop import app

            print(current_app.name)
            """,
    }
    tree = write_project(tmp_path / "shop", files, commit=True)
    env = EnvironmentCache(cache_dir).environment(tree)
    assert env.venv == shop_env.venv
    report = run(
        RunOptions(
            argv=(str(env.python), "scripts/report.py"),
            cwd=tree,
            env=env.variables(tree),
            timeout=120,
        ),
        output=io.StringIO(),
    )
    assert report.error is None, report.error
    assert report.diagnosis is not None and report.diagnosis.code == "CTX101"
    assert report.verification is not None and report.verification.verified
    assert report.verification.tests_after is not None
    assert report.verification.tests_after.outcomes == {"tests/test_shop.py::test_app": "passed"}
    library = [f.abs_path for f in report.event.frames if "site-packages" in (f.abs_path or "")]
    assert library and all(path.startswith(str(env.venv)) for path in library)
    assert git("status", "--porcelain", cwd=tree).stdout == ""
