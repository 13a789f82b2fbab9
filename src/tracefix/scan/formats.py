"""The scan's output formats: ``text`` for people, ``json`` for scripts, ``sarif`` for
code-scanning UIs, ``github`` for workflow annotations.

Every format names files by ``display`` (relative to the working directory, as ruff does) and
columns in characters, 1-based. Errors (a file that does not parse, a detector that failed)
appear in each format where that format keeps them: lines of text, an ``errors`` list,
SARIF's tool execution notifications, ``::error`` annotations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from tracefix import __version__
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.scan.engine import ScanResult

FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

Display = Callable[[str], str]


def render(
    result: ScanResult,
    output_format: str,
    recipes: Sequence[Recipe],
    display: Display,
    root: Path,
) -> str:
    if output_format == "json":
        return render_json(result, display)
    if output_format == "sarif":
        return render_sarif(result, recipes, display, root)
    if output_format == "github":
        return render_github(result, display)
    return render_text(result, display)


def render_text(result: ScanResult, display: Display) -> str:
    """``path:line:col: CODE [*] message`` per finding, then a summary, like ruff's output."""
    lines = [
        f"{display(f.path)}:{f.line}:{f.column}: {f.code}{' [*]' if f.fixable else ''} {f.message}"
        for f in result.findings
    ]
    lines += [f"{display(e.path)}:{e.line}:{e.column}: {e.message}" for e in result.errors]
    found = len(result.findings)
    if found:
        fixable = sum(1 for f in result.findings if f.fixable)
        lines.append(f"Found {found} finding{'s' if found != 1 else ''}.")
        if fixable:
            lines.append(f"[*] {fixable} with a safe fix: run `tracefix scan --fix`.")
    elif not result.errors:
        lines.append("All checks passed!")
    if result.errors:
        lines.append(
            f"{len(result.errors)} file{'s' if len(result.errors) != 1 else ''} not checked."
        )
    return "\n".join(lines)


def render_json(result: ScanResult, display: Display) -> str:
    document = {
        "version": 1,
        "tool": {"name": "tracefix", "version": __version__},
        "files": result.files,
        "suppressed": result.suppressed,
        "findings": [
            {
                "code": f.code,
                "name": f.diagnosis.name,
                "summary": f.diagnosis.summary,
                "message": f.message,
                "path": display(f.path),
                "line": f.line,
                "column": f.column,
                "fix": (
                    {"applicability": "safe" if f.fixable else "unsafe", "title": f.fix_title}
                    if f.fix_title is not None
                    else None
                ),
                "facts": dict(f.diagnosis.facts),
            }
            for f in result.findings
        ],
        "errors": [
            {"path": display(e.path), "line": e.line, "column": e.column, "message": e.message}
            for e in result.errors
        ],
    }
    return json.dumps(document, indent=2, sort_keys=False, default=str)


def render_sarif(
    result: ScanResult, recipes: Sequence[Recipe], display: Display, root: Path
) -> str:
    """SARIF 2.1.0: one run, a rule per selected recipe, a result per finding."""
    ordered = sorted(recipes, key=lambda recipe: recipe.code)
    index = {recipe.code: number for number, recipe in enumerate(ordered)}
    rules = [
        {
            "id": recipe.code,
            "name": recipe.name,
            "shortDescription": {"text": recipe.summary},
            "fullDescription": {"text": _first_paragraph(recipe)},
            "help": {"text": recipe.documentation(), "markdown": recipe.documentation()},
            "defaultConfiguration": {"level": "error"},
            "properties": {
                "fix": recipe.fix_title,
                "fixSafety": "safe" if recipe.applicability is Applicability.SAFE else "unsafe",
                "documentation": f"docs/recipes/{recipe.code}.md",
            },
        }
        for recipe in ordered
    ]
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": index.get(f.code, -1),
            "level": "error",
            "message": {"text": f.message},
            "locations": [_location(display(f.path), f.line, f.column)],
        }
        for f in result.findings
    ]
    notifications = [
        {
            "level": "error",
            "message": {"text": e.message},
            "locations": [_location(display(e.path), e.line, e.column)],
        }
        for e in result.errors
    ]
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tracefix",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "invocations": [
                    {
                        "executionSuccessful": not result.errors,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2)


def render_github(result: ScanResult, display: Display) -> str:
    """GitHub Actions workflow commands: one ``::error`` annotation per finding and error."""
    lines = []
    for f in result.findings:
        lines.append(
            _annotation(
                f"tracefix ({f.code})", display(f.path), f.line, f.column, f"{f.code} {f.message}"
            )
        )
    for e in result.errors:
        lines.append(_annotation("tracefix", display(e.path), e.line, e.column, e.message))
    return "\n".join(lines)


def _location(uri_path: str, line: int, column: int) -> dict[str, object]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": quote(uri_path), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": line, "startColumn": column},
        }
    }


def _annotation(title: str, path: str, line: int, column: int, message: str) -> str:
    properties = ",".join(
        f"{key}={_escape_property(value)}"
        for key, value in (("title", title), ("file", path), ("line", line), ("col", column))
    )
    return f"::error {properties}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: object) -> str:
    return _escape_data(str(value)).replace(":", "%3A").replace(",", "%2C")


def _first_paragraph(recipe: Recipe) -> str:
    return recipe.documentation().split("\n\n")[0].strip()
