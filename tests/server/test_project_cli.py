"""``tracefix project create|set|show``: where a project's fixes go, set from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from click.testing import Result
from sqlalchemy import select

from tracefix.cli import main
from tracefix.server.db import Database
from tracefix.server.models import Project


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRACEFIX_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TRACEFIX_DATABASE_URL", raising=False)
    monkeypatch.delenv("TRACEFIX_PUBLIC_URL", raising=False)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def stored(data_dir: Path, name: str) -> Project:
    database = Database(f"sqlite:///{data_dir / 'tracefix.db'}")
    try:
        with database.session() as session:
            project = session.scalars(select(Project).where(Project.name == name)).one()
            session.expunge(project)
            return project
    finally:
        database.dispose()


def test_create_with_a_forge_stores_what_delivery_reads(data_dir: Path) -> None:
    created = run(
        "project", "create", "shop",
        "--repo", "git@codeberg.org:acme/shop.git",
        "--python", sys.executable,
        "--test-command", "python -m pytest -q tests/unit",
        "--forge", "gitea",
        "--forge-api-url", "https://codeberg.org/api/v1",
        "--token-env", "SHOP_FORGE_TOKEN",
        "--events-per-minute", "600",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    project = stored(data_dir, "shop")
    assert created.output.strip() == f"http://{project.public_key}@127.0.0.1:8000/{project.id}"
    assert project.repo == "git@codeberg.org:acme/shop.git"
    assert project.events_per_minute == 600
    assert project.settings == {
        "python": sys.executable,
        "test_command": ["python", "-m", "pytest", "-q", "tests/unit"],
        "forge": "gitea",
        "forge_api_url": "https://codeberg.org/api/v1",
        "token_env": "SHOP_FORGE_TOKEN",
    }


def test_set_changes_and_unsets_settings_and_show_prints_them(data_dir: Path) -> None:
    assert run("project", "create", "shop", "--forge", "github").exit_code == 0
    changed = run("project", "set", "shop", "--no-tests", "--unset", "forge", "--remote", "/srv/x")
    assert changed.exit_code == 0, changed.output
    assert stored(data_dir, "shop").settings == {"run_tests": False, "remote": "/srv/x"}
    shown = run("project", "show", "shop")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("dsn: http://") and lines[1] == "repo: -"
    assert lines[2:] == ["remote: /srv/x", "run_tests: false"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--forge-api-url", "https://git.example/api/v1"], "forge_api_url is for pull requests"),
        (["--forge", "gitea", "--forge-api-url", "git.example"], "is not an http(s) URL"),
        (["--forge", "gitlab", "--token-env", "MY-TOKEN"], "not an environment variable"),
        (["--test-command", "pytest 'unclosed"], "--test-command: No closing quotation"),
        (["--repo", "/no/such/dir"], "no directory /no/such/dir"),
    ],
)
def test_settings_the_pipeline_cannot_use_are_refused_and_nothing_is_stored(
    data_dir: Path, args: list[str], message: str
) -> None:
    refused = run("project", "create", "shop", *args)
    assert refused.exit_code == 1
    assert message in refused.output
    assert "Traceback" not in refused.output
    assert run("project", "show", "shop").exit_code == 1


def test_set_refuses_an_unknown_project_or_setting(data_dir: Path) -> None:
    missing = run("project", "set", "ghost", "--no-tests")
    assert missing.exit_code == 1 and "no project named 'ghost'" in missing.output
    assert run("project", "create", "shop", "--forge", "gitea").exit_code == 0
    unknown = run("project", "set", "shop", "--unset", "colour")
    assert unknown.exit_code == 1 and "no setting 'colour'" in unknown.output
    orphan = run("project", "set", "shop", "--unset", "forge", "--token-env", "T")
    assert orphan.exit_code == 1 and "token_env is for pull requests" in orphan.output
    assert stored(data_dir, "shop").settings == {"forge": "gitea"}
