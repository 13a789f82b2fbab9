"""Projects: creation, and the DSN an app is configured with."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracefix.server.models import Project

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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
        name=name, public_key=secrets.token_hex(16), repo=repo, settings=dict(settings or {})
    )
    session.add(project)
    session.flush()
    return project


def dsn(public_url: str, project: Project) -> str:
    """``http(s)://PUBLIC_KEY@HOST[:PORT][/PATH]/PROJECT_ID``, Sentry's form."""
    parts = urlsplit(public_url.rstrip("/"))
    return f"{parts.scheme}://{project.public_key}@{parts.netloc}{parts.path}/{project.id}"
