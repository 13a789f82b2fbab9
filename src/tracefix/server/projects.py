"""Projects: creation, their settings, and the DSN an app is configured with."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracefix.server.models import Project

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: The forges a pull request can be opened on (``tracefix.deliver.forges``).
FORGES = ("github", "gitlab", "gitea")
#: The settings that only mean something for a pull request, so only with a ``forge``.
FORGE_SETTINGS = ("forge_url", "forge_api_url", "token_env")
#: Every setting the fix pipeline reads (``models.Project``).
SETTINGS = ("python", "test_command", "run_tests", "remote", "forge", *FORGE_SETTINGS)


class ProjectError(ValueError):
    """A project cannot be created as asked."""


def create_project(
    session: Session, name: str, repo: str | None = None, settings: dict[str, Any] | None = None
) -> Project:
    if not _NAME.match(name):
        raise ProjectError(
            f"invalid project name {name!r}: letters, digits, '.', '_' and '-', at most 100"
        )
    if session.scalar(select(Project.id).where(Project.name == name)) is not None:
        raise ProjectError(f"a project named {name!r} exists already")
    project = Project(
        name=name,
        public_key=secrets.token_hex(16),
        repo=repo,
        settings=checked_settings(dict(settings or {})),
    )
    session.add(project)
    session.flush()
    return project


def find_project(session: Session, name: str) -> Project:
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        raise ProjectError(f"no project named {name!r}")
    return project


def change_settings(
    project: Project, changes: dict[str, Any], unset: Iterable[str] = ()
) -> dict[str, Any]:
    """Set ``changes`` and remove ``unset`` in the project's settings; the new settings."""
    unknown = sorted(set(unset) - set(SETTINGS))
    if unknown:
        raise ProjectError(f"no setting {unknown[0]!r}; settings: {', '.join(SETTINGS)}")
    settings = {k: v for k, v in (project.settings or {}).items() if k not in set(unset)}
    settings.update(changes)
    project.settings = checked_settings(settings)  # a new dict: the JSON column sees the change
    return project.settings


def checked_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` if the fix pipeline can use them, else a ``ProjectError`` saying why: a
    mistake here would only show later, as a fix that fails to deliver."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ProjectError(f"no setting {unknown[0]!r}; settings: {', '.join(SETTINGS)}")
    forge = settings.get("forge")
    if forge is not None and forge not in FORGES:
        raise ProjectError(f"unknown forge {forge!r}: one of {', '.join(FORGES)}")
    if forge is None and (needing := [k for k in FORGE_SETTINGS if k in settings]):
        raise ProjectError(f"{needing[0]} is for pull requests: set a forge too")
    api = settings.get("forge_api_url")
    if api is not None and urlsplit(str(api)).scheme not in ("http", "https"):
        raise ProjectError(f"forge_api_url {api!r} is not an http(s) URL")
    token_env = settings.get("token_env")
    if token_env is not None and not _VARIABLE.match(str(token_env)):
        raise ProjectError(f"token_env {token_env!r} is not an environment variable's name")
    test_command = settings.get("test_command")
    if test_command is not None and not (
        isinstance(test_command, list)
        and test_command
        and all(isinstance(a, str) for a in test_command)
    ):
        raise ProjectError("test_command must be a command line: a non-empty list of strings")
    if not isinstance(settings.get("run_tests", True), bool):
        raise ProjectError("run_tests must be true or false")
    return settings


def dsn(public_url: str, project: Project) -> str:
    """``http(s)://PUBLIC_KEY@HOST[:PORT][/PATH]/PROJECT_ID``, Sentry's form."""
    parts = urlsplit(public_url.rstrip("/"))
    return f"{parts.scheme}://{project.public_key}@{parts.netloc}{parts.path}/{project.id}"
