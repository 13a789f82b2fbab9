"""The recipe: one known cause of a failure, with its detection and its fix, in one place.

A recipe is a folder ``recipes/<name>/``:

- ``__init__.py``: the ``Recipe`` subclass. Its docstring is the user documentation, with the
  sections What it does / Why is this bad? / Example / Use instead / Fix safety / References.
- ``fix.py``: the LibCST codemod the recipe's ``fix`` runs.
- ``detect`` (optional): the static check ``tracefix scan`` runs, on ``ast``.
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

import enum
from abc import ABC
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from typing import ClassVar
from typing import TypeVar

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.patch import FileChange

_Plan = TypeVar("_Plan")


class Applicability(enum.Enum):
    """Whether a fix can change behaviour beyond removing the failure (ruff's fix safety)."""

    SAFE = "safe"
    UNSAFE = "unsafe"


class SkipFix(Exception):
    """Raised by a fixer that will not touch this code; the message says why."""


def plan_or_reason(
    plan: Callable[..., _Plan], *arguments: object
) -> tuple[_Plan | None, dict[str, str]]:
    """``plan(*arguments)``, or ``None`` and the ``reason`` fact from the ``SkipFix`` it raised:
    for a recipe that reports a failure whether or not its fix applies (``offers_fix`` reads
    it)."""
    try:
        return plan(*arguments), {}
    except SkipFix as skipped:
        return None, {"reason": str(skipped)}


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
    #: Whether ``detect`` may parse most of the project whichever file it is asked about: it
    #: follows scripts, or every module, through what they import and call. A scan on two
    #: cores runs these in the process that parses the app's files (``scan/processes.py``);
    #: a wrong value costs speed, never a finding.
    reads_the_app: ClassVar[bool] = False

    @abstractmethod
    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        """Return a ``Diagnosis`` if this cause explains ``event``, else ``None``."""

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        """``tracefix scan``'s static check: where in ``path`` this cause will happen, found
        from the code alone (``project.ast(path)``: fast, no LibCST), each a ``Diagnosis``
        whose ``location`` has the column and whose ``facts`` are what ``fix`` needs, so
        ``scan --fix`` runs the same codemod. None by default: a recipe that needs the
        runtime event to be sure stays silent rather than guess."""
        return ()

    @abstractmethod
    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        """Return the changes that fix ``diagnosis``; raise ``SkipFix`` when unsure.

        Running the fix on its own output must change nothing (raise ``SkipFix`` or return no
        change), and every changed file must still parse.
        """

    def offers_fix(self, diagnosis: Diagnosis) -> bool:
        """Whether ``fix`` may change something for ``diagnosis``. Not when the diagnosis says
        itself why no fix applies: a ``reason`` fact, which a recipe sets exactly then (and
        ``fix`` raises ``SkipFix`` with it). ``tracefix scan`` marks ``[*]`` and ``--fix``
        tries only the findings whose recipe offers a fix and declares it safe."""
        return not diagnosis.facts.get("reason")

    def diagnosis(self, explanation: str, location: Location, **facts: Any) -> Diagnosis:
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
