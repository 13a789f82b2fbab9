"""The recipe: one known cause of a failure, with its detection and its fix, in one place.

A recipe is a folder ``recipes/<name>/``:

- ``__init__.py``: the ``Recipe`` subclass. Its docstring is the user documentation, with the
  sections What it does / Why is this bad? / Example / Use instead / Fix safety / References.
- ``fix.py``: the LibCST codemod the recipe's ``fix`` runs.
- ``cases/<case>/``: small real projects. ``project/`` is the code before, ``command.txt`` the
  command that fails, ``event.json`` the event ``tracefix run`` captured from it, and
  ``expected/`` the files after the fix. A case without ``expected/`` is a noop case: the
  recipe must leave it alone.

It is registered by one line in ``recipes/__init__.py``'s ``RECIPES`` table.

``diagnose`` and ``fix`` are pure: they read the event and the ``Project`` and return data.
A recipe that is not sure returns ``None`` from ``diagnose`` or raises ``SkipFix`` from ``fix``:
a wrong patch is worse than none.
"""

from __future__ import annotations

import difflib
import enum
from abc import ABC
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar

from tracefix.diagnose.project import Project
from tracefix.event import Event


class Applicability(enum.Enum):
    """Whether a fix can change behaviour beyond removing the failure (ruff's fix safety)."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True)
class Location:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Diagnosis:
    """A recipe's verdict on an event: which cause, why, and what its fix needs to know.

    ``explanation`` is a short paragraph for the user that names ``file:line``. ``facts`` carries
    what ``Recipe.fix`` needs (recipe-specific, JSON-serialisable values).
    """

    code: str
    name: str
    summary: str
    explanation: str
    location: Location
    facts: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "summary": self.summary,
            "explanation": self.explanation,
            "location": {"path": self.location.path, "line": self.location.line},
            "facts": dict(self.facts),
        }


@dataclass(frozen=True)
class FileChange:
    """A whole-file change. ``before`` is ``None`` when the fix creates the file."""

    path: str
    before: str | None
    after: str

    def diff(self) -> str:
        before = (self.before or "").splitlines(keepends=True)
        after = self.after.splitlines(keepends=True)
        lines = difflib.unified_diff(
            before,
            after,
            fromfile="/dev/null" if self.before is None else f"a/{self.path}",
            tofile=f"b/{self.path}",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


class SkipFix(Exception):
    """Raised by a fixer that will not touch this code; the message says why."""


@dataclass(frozen=True)
class FixSuccess:
    changes: tuple[FileChange, ...]
    warnings: tuple[str, ...] = ()

    def diff(self) -> str:
        return "".join(change.diff() for change in self.changes)


@dataclass(frozen=True)
class FixSkip:
    reason: str


@dataclass(frozen=True)
class FixFailure:
    error: str
    traceback: str


FixResult = FixSuccess | FixSkip | FixFailure


class Recipe(ABC):
    """Base class of every recipe. Subclasses set the class attributes and the two methods."""

    #: Stable identifier, one row of the ``RECIPES`` table (``CTX101``).
    code: ClassVar[str]
    #: Names the pattern, not the fix; reads as "allow <name>" (ruff's convention).
    name: ClassVar[str]
    #: One line saying what is wrong.
    summary: ClassVar[str]
    #: One line saying what the fix does.
    fix_title: ClassVar[str]
    applicability: ClassVar[Applicability] = Applicability.SAFE

    @abstractmethod
    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        """Return a ``Diagnosis`` if this cause explains ``event``, else ``None``."""

    @abstractmethod
    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        """Return the changes that fix ``diagnosis``; raise ``SkipFix`` when unsure.

        Running the fix on its own output must change nothing (raise ``SkipFix`` or return no
        change), and every changed file must still parse.
        """

    def diagnosis(
        self, explanation: str, location: Location, **facts: Any
    ) -> Diagnosis:
        """Build this recipe's ``Diagnosis``."""
        return Diagnosis(
            code=self.code,
            name=self.name,
            summary=self.summary,
            explanation=explanation,
            location=location,
            facts=facts,
        )

    @classmethod
    def documentation(cls) -> str:
        return (cls.__doc__ or "").strip()
