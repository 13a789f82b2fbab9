"""CTX112: ``url_for`` in a script or a job, where there is no request to build URLs against."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import is_main_guard
from tracefix.diagnose.apps import is_test_path
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_app_context_error
from tracefix.diagnose.signatures import is_library_frame
from tracefix.event import Event
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes.script_entry import ScriptEntry
from tracefix.recipes.script_module_level import ScriptModuleLevel
from tracefix.recipes.script_module_level import script_frame
from tracefix.recipes.url_for_outside_request.server_name import ServerName
from tracefix.recipes.url_for_outside_request.server_name import server_name
from tracefix.scan.context_use import REQUEST_FUNCTIONS
from tracefix.scan.context_use import Use
from tracefix.scan.context_use import analysis

#: Flask's message when ``url_for`` has an app context but no request and no ``SERVER_NAME``.
NO_SERVER_NAME_MESSAGE = "unable to build urls outside an active request without 'server_name'"
#: The two contexts a fix may push: an app context, or a test request context with it.
APP_CONTEXT = "app_context"
REQUEST_CONTEXT = "test_request_context"
#: ``url_for(..., _external=True)``: an absolute URL, which needs the real host.
EXTERNAL = re.compile(r"_external\s*=\s*True")


class UrlForOutsideRequest(Recipe):
    """`url_for` in a script or a job, where there is no request to build URLs against.

    ## What it does
    Matches `RuntimeError: Unable to build URLs outside an active request without 'SERVER_NAME'
    configured.` (an app context, but no request: a script's `with app.app_context():`, a
    `flask` command, a job), also when a template rendered there calls `url_for`; and
    `RuntimeError: Working outside of application context.` raised by `url_for` in a script
    run as `__main__`, where an app context alone would fail next with the first error.
    `tracefix scan` finds a script that reaches `url_for` with no context (at its top level,
    in its `__main__` block, or through the project's functions it calls), and `url_for` in a
    script's `with app.app_context():` block when the project sets no `SERVER_NAME`.

    ## Why is this bad?
    `url_for` builds a URL from the current request's host, scheme and script root. Outside a
    request it can only use `SERVER_NAME` (with `APPLICATION_ROOT` and
    `PREFERRED_URL_SCHEME`); without it, it has nothing to build against.

    ## Example
        # scripts/print_links.py
        from flask import url_for
        from app import create_app

        app = create_app()
        with app.app_context():
            print(url_for("users.list_users"))

    ## Use instead
        app = create_app()
        with app.test_request_context():
            print(url_for("users.list_users"))   # "/users"

    ## Fix safety
    Unsafe. The choice follows what the project configures. When it never mentions
    `SERVER_NAME`, the script's `with app.app_context():` becomes
    `with app.test_request_context():` (the same app context, plus a request to
    `http://localhost/` under the configured `APPLICATION_ROOT` and `PREFERRED_URL_SCHEME`),
    or, with no context at all, its statement is wrapped in one the way CTX101 and CTX102 wrap
    it. URLs come out relative (`/users`), as in a view, rather than absolute: that is the
    behaviour change. When the project sets `SERVER_NAME` for every app, an app context is
    wrapped instead. No fix is offered when the URLs must be absolute (`_external=True`, which
    would name `localhost`), when `SERVER_NAME` is set only for some configurations or read
    from the environment (the deployment's configuration is where it belongs; tracefix never
    invents a host), or when the context comes from a `flask` command, a task runner or a
    function other code calls too.

    ## References
    - Flask docs, "Configuration Handling": SERVER_NAME, APPLICATION_ROOT, PREFERRED_URL_SCHEME
    - Flask docs, "The Request Context": Manually Push a Context
    - docs/context-errors.md §3.3 `url_for_outside_request`, §3.4
    """

    code = "CTX112"
    reads_the_app = True
    name = "url-for-outside-request"
    summary = "`url_for` runs where there is no request and no `SERVER_NAME` to build URLs"
    fix_title = "Build the script's URLs in `with app.test_request_context():`"
    applicability = Applicability.UNSAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        exception = event.exception
        if exception.type != "RuntimeError":
            return None
        if exception.first_line.lower().startswith(NO_SERVER_NAME_MESSAGE):
            return self._with_context(event, project)
        if is_app_context_error(exception) and _url_for_raised(event):
            return self._without_context(event, project)
        return None

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        tree = project.ast(path)
        source = project.source(path)
        if tree is None or source is None or is_test_path(path):
            return
        use = analysis(project).script_use(path)
        if use is not None and use.path == path and use.deepest.called in REQUEST_FUNCTIONS:
            location = Location(path, use.line, use.column)
            yield self._wrap(
                project, location, _line_of(project, use), _line_of(project, use.deepest)
            )
            return
        if not _imports_url_for(tree):
            return
        if server_name(project).state != "none" or not _is_script(project, path):
            return
        lines = source.splitlines()
        for statement in _script_statements(tree):
            if not isinstance(statement, ast.With) or not _pushes_app_context(statement):
                continue
            calls = [n for n in walk(statement) if _is_url_for(n)]
            if not calls or any(EXTERNAL.search(ast.unparse(c)) for c in calls):
                continue
            call = calls[0]
            assert isinstance(call, ast.expr)
            text = lines[statement.lineno - 1].strip()
            yield self.diagnosis(
                _swap_explanation(path, call.lineno, path, statement.lineno),
                Location(path, call.lineno, call.col_offset + 1),
                kind="swap",
                path=path,
                line=statement.lineno,
                statement=text,
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes.url_for_outside_request.fix import swap_to_request_context
        from tracefix.recipes.url_for_outside_request.fix import wrap_for_url_for

        facts = diagnosis.facts
        kind = facts.get("kind")
        path, line, text = str(facts.get("path")), int(facts.get("line", 0)), facts.get("statement")
        if kind == "swap":
            return swap_to_request_context(project, path, line, text)
        if kind == "wrap":
            return wrap_for_url_for(project, path, line, text, str(facts["method"]))
        raise SkipFix(str(facts.get("reason")))

    def _with_context(self, event: Event, project: Project) -> Diagnosis | None:
        """The SERVER_NAME error: an app context exists, pushed somewhere, but no request."""
        trigger = event.trigger_frame()
        if trigger is None:
            return None
        where = f"{trigger.filename}:{trigger.lineno}"
        called = (trigger.context_line or "").strip()
        opening = (
            f"{where} (`{called}`) calls `url_for` with an app context but no request, and the "
            "app has no `SERVER_NAME`: Flask has no host, scheme or root to build the URL from."
        )
        location = Location(trigger.filename, trigger.lineno or 0)
        site = _context_site(event, project)
        configured = server_name(project)
        reason = _no_fix_reason(event, site, configured, called)
        if reason is not None or site is None:
            return self.diagnosis(
                f"{opening} No safe fix: {reason}.", location, kind="none", reason=reason
            )
        frame, line = site
        text = (project.source(frame.filename) or "").splitlines()[line - 1].strip()
        return self.diagnosis(
            _swap_explanation(trigger.filename, trigger.lineno or 0, frame.filename, line),
            location,
            kind="swap",
            path=frame.filename,
            line=line,
            statement=text,
        )

    def _without_context(self, event: Event, project: Project) -> Diagnosis | None:
        """``url_for`` in a script with no context at all: CTX101's or CTX102's statement."""
        base = ScriptModuleLevel().diagnose(event, project) or ScriptEntry().diagnose(
            event, project
        )
        if base is None:
            return None
        path, line = str(base.facts["path"]), int(base.facts["line"])
        statement = str(base.facts.get("statement") or "")
        trigger = event.trigger_frame()
        called = (trigger.context_line or "").strip() if trigger is not None else statement
        return self._wrap(project, Location(path, line), statement, called)

    def _wrap(self, project: Project, location: Location, statement: str, called: str) -> Diagnosis:
        """The verdict on a script's ``statement`` (at ``location``) that reaches ``url_for``
        in the line ``called`` with no context: the context to wrap it in, or why none."""
        path, line = location.path, location.line
        configured = server_name(project)
        opening = (
            f"{path}:{line} runs `{statement}`, which calls `url_for` with no application "
            "context: the script never pushed one."
        )
        if configured.state == "set":
            return self.diagnosis(
                f"{opening} The project sets `SERVER_NAME` for its apps "
                f"({', '.join(configured.places)}), so an app context is all `url_for` needs.",
                location,
                kind="wrap",
                method=APP_CONTEXT,
                path=path,
                line=line,
                statement=statement,
            )
        reason = None
        if configured.state == "unclear":
            reason = _unclear_reason(configured)
        elif EXTERNAL.search(called) or EXTERNAL.search(statement):
            reason = _external_reason()
        if reason is not None:
            return self.diagnosis(
                f"{opening} An app context alone would not do: {reason}.",
                location,
                kind="none",
                reason=reason,
            )
        return self.diagnosis(
            f"{opening} An app context alone would not do: outside a request, `url_for` needs "
            "`SERVER_NAME`, which the project does not set. A test request context gives it a "
            "request to build against: relative URLs, under the configured `APPLICATION_ROOT` "
            "and `PREFERRED_URL_SCHEME`.",
            location,
            kind="wrap",
            method=REQUEST_CONTEXT,
            path=path,
            line=line,
            statement=statement,
        )


def _swap_explanation(trigger_path: str, trigger_line: int, path: str, line: int) -> str:
    return (
        f"{trigger_path}:{trigger_line} calls `url_for` in the app context pushed at "
        f"{path}:{line}, with no request, and the project sets no `SERVER_NAME`: Flask has no "
        "host, scheme or root to build the URL from. A test request context there pushes the "
        "same app context plus a request to build against: relative URLs, under the configured "
        "`APPLICATION_ROOT` and `PREFERRED_URL_SCHEME`."
    )


def _line_of(project: Project, use: Use) -> str:
    """The line of ``use``, stripped, as a frame's ``context_line`` shows it."""
    lines = (project.source(use.path) or "").splitlines()
    return lines[use.line - 1].strip() if 0 < use.line <= len(lines) else ""


def _url_for_raised(event: Event) -> bool:
    """Whether the project's last frame called ``flask.url_for`` straight into the error."""
    frames = event.frames
    trigger = event.trigger_frame()
    if trigger is None:
        return False
    after = frames[frames.index(trigger) + 1 :]
    return bool(after) and is_library_frame(after[0], "flask/helpers.py", "url_for")


def _context_site(event: Event, project: Project) -> tuple[Frame, int] | None:
    """The script frame whose ``with x.app_context():`` pushed the context, and its line."""
    from tracefix.recipes._codemod import relocate_line  # LibCST: not on scan's path

    script = script_frame(event)
    for frame in reversed(event.frames):
        if not frame.in_app or frame.lineno is None or project.source(frame.filename) is None:
            continue
        source = project.source(frame.filename) or ""
        line = relocate_line(source, frame.lineno, frame.context_line)
        if line is None:
            continue
        statement = _pushing_with(project, frame.filename, line)
        if statement is None:
            continue
        in_script = script is not None and frame.filename == script.filename
        return (frame, statement.lineno) if in_script else None
    return None


def _no_fix_reason(
    event: Event, site: tuple[Frame, int] | None, configured: ServerName, called: str
) -> str | None:
    if configured.state != "none":
        return (
            "the project configures `SERVER_NAME` ("
            + ", ".join(configured.places)
            + ") but the app this ran with had none: set it in the configuration this runs "
            "with (the deployment's, from its environment), not in code"
        )
    if EXTERNAL.search(called):
        return _external_reason()
    if site is not None:
        return None
    libraries = {(f.abs_path or f.filename).replace("\\", "/") for f in event.frames}
    if any("flask/cli.py" in path for path in libraries):
        return (
            "the context comes from a `flask` command; URLs built there (for emails, feeds) "
            "need `SERVER_NAME` and `PREFERRED_URL_SCHEME` in the configuration it runs with"
        )
    if any("celery/" in path or "apscheduler/" in path or "rq/" in path for path in libraries):
        return (
            "the context comes from a task runner; a task that builds URLs needs `SERVER_NAME` "
            "in the worker's configuration, or the URL built by the view and passed in"
        )
    if event.in_thread:
        return (
            "it runs in a background thread; the URL it needs is best built by the code that "
            "starts the thread (a view has a request) and passed in, or `SERVER_NAME` set in "
            "the configuration"
        )
    return (
        "the app context is pushed in a function other code may call too, not in a script's "
        "own top-level code: a request context there would change those callers"
    )


def _unclear_reason(configured: ServerName) -> str:
    return (
        "the project sets `SERVER_NAME` only for some configurations, or from the environment ("
        + ", ".join(configured.places)
        + "): which this script gets is not clear from the code"
    )


def _external_reason() -> str:
    return (
        "it builds absolute URLs (`_external=True`), which need the real host: set "
        "`SERVER_NAME` (and `PREFERRED_URL_SCHEME`) in the deployment's configuration; tracefix "
        "will not invent a host"
    )


def _pushing_with(project: Project, path: str, line: int) -> ast.With | None:
    """The innermost ``with x.app_context():`` around ``line`` in its own function."""
    tree = project.ast(path)
    if tree is None or not inside_app_context(project, path, line):
        return None
    found: ast.With | None = None
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        statement = pending.pop(0)
        if not statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            continue
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found = None
        elif isinstance(statement, ast.With) and _pushes_app_context(statement):
            if statement.body[0].lineno <= line:
                found = statement
        pending = [
            child
            for field in ("body", "orelse", "finalbody", "handlers")
            for child in getattr(statement, field, [])
            if isinstance(child, ast.stmt)
        ]
        for handler in getattr(statement, "handlers", []):
            pending.extend(handler.body)
    return found


def _pushes_app_context(statement: ast.With) -> bool:
    return any(
        isinstance(item.context_expr, ast.Call)
        and isinstance(item.context_expr.func, ast.Attribute)
        and item.context_expr.func.attr == APP_CONTEXT
        and not item.context_expr.args
        for item in statement.items
    )


def _is_script(project: Project, path: str) -> bool:
    """A file run as a program: it has an ``if __name__ == "__main__":`` block, or no other
    project file imports it (``context_use``'s index, which the script recipes read too)."""
    tree = project.ast(path)
    if tree is None:
        return False
    if any(is_main_guard(statement) for statement in tree.body):
        return True
    return project.module_name(path) is not None and not analysis(project).imported_by_others(path)


def _imports_url_for(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "flask"
        and any(alias.name == "url_for" and alias.asname is None for alias in node.names)
        for node in tree.body
    )


def _is_url_for(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "url_for"
    )


def _script_statements(tree: ast.Module) -> list[ast.stmt]:
    """A script's top-level statements and those of its ``__main__`` block."""
    found: list[ast.stmt] = []
    for statement in tree.body:
        if is_main_guard(statement):
            assert isinstance(statement, ast.If)
            found.extend(statement.body)
        else:
            found.append(statement)
    return found
