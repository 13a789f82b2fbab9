"""A diagnosis: which known cause explains an event, where, and what its fix needs to know."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any


@dataclass(frozen=True)
class Location:
    path: str
    line: int
    #: 1-based, as editors and ruff show it; 0 when only the line is known (a traceback).
    column: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" + (f":{self.column}" if self.column else "")


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
            "location": {
                "path": self.location.path,
                "line": self.location.line,
                "column": self.location.column,
            },
            "facts": dict(self.facts),
        }
