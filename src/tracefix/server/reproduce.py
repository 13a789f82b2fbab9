"""How to run a production failure again in a checkout of the project, pure: event in, command
out.

The event says how the failing code was started. In order of preference:

- a request (the failing thread's own, our SDK's ``contexts.flask.spawned_by`` for a thread a
  view started, or ``request`` as sentry-sdk sends it, its scope carried into threads): the
  request is replayed through the app's ``test_client``, the app created the way the project
  creates it (``diagnose.apps``), and every thread it started is waited for;
- a test (``contexts.entry.test``): ``python -m pytest NODEID``;
- a command (``contexts.entry.argv``, else ``extra["sys.argv"]``): a script, ``python -m``, or
  a console script such as ``flask`` or ``pytest`` run as a module of the project's interpreter.

Anything else (a Celery worker, a WSGI server with no request in the event) cannot be re-run
from the event: ``CannotReproduce`` says why.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.project import Project

#: Console scripts that are the entry point of a Python module of the same purpose.
CONSOLE_MODULES = {"flask": "flask", "pytest": "pytest", "py.test": "pytest"}
#: Processes that serve requests or run tasks: their argv alone does not re-run a failure.
SERVERS = frozenset({"gunicorn", "uwsgi", "waitress-serve", "celery", "hypercorn", "uvicorn"})
#: Seconds the replay waits for each thread the request started.
THREAD_WAIT = 60


class CannotReproduce(Exception):
    """The event does not say how to start the failing code again."""


@dataclass(frozen=True)
class Reproduction:
    """``argv`` to run from ``cwd`` (relative to the repository's root), and what it re-runs."""

    kind: str
    argv: tuple[str, ...]
    cwd: str
    description: str


def reproductions_for(event: dict[str, Any], project: Project, python: str) -> list[Reproduction]:
    """The ways to run the failure again, best first: a script may have run as a module or as a
    file, and only running it tells which reproduces the failure."""
    contexts = event.get("contexts") if isinstance(event.get("contexts"), dict) else {}
    assert isinstance(contexts, dict)
    entry = contexts.get("entry") if isinstance(contexts.get("entry"), dict) else {}
    assert isinstance(entry, dict)
    request = _request_of(event, contexts)
    if request is not None:
        return [_request_replay(request, project, python)]
    test = entry.get("test")
    if isinstance(test, str) and test:
        return [Reproduction("test", (python, "-m", "pytest", test), ".", f"the test {test}")]
    argv = entry.get("argv") or (event.get("extra") or {}).get("sys.argv")
    if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
        return _command(argv, entry.get("cwd"), _production_root(event), project, python)
    raise CannotReproduce("the event records neither a request, a test nor a command")


def _request_of(event: dict[str, Any], contexts: dict[str, Any]) -> dict[str, Any] | None:
    flask = contexts.get("flask") if isinstance(contexts.get("flask"), dict) else {}
    assert isinstance(flask, dict)
    request: dict[str, Any] | None = event.get("request")
    if not isinstance(request, dict):
        request = None
    if flask.get("request_context") and flask.get("url"):
        return {**(request or {}), "url": flask["url"], "method": flask.get("method") or "GET"}
    spawned_by = flask.get("spawned_by")
    if isinstance(spawned_by, dict) and spawned_by.get("url"):
        return {**(request or {}), **spawned_by}
    if request is not None and isinstance(request.get("url"), str):
        return request
    return None


def _request_replay(request: dict[str, Any], project: Project, python: str) -> Reproduction:
    source = find_app_source(project)
    if source is None:
        raise CannotReproduce("the event is a request, but the project's Flask app is unclear")
    method = str(request.get("method") or "GET").upper()
    parts = urlsplit(str(request["url"]))
    path = parts.path or "/"
    query = request.get("query_string")
    if isinstance(query, str) and query:
        path = f"{path}?{query}"
    elif parts.query:
        path = f"{path}?{parts.query}"
    body = request.get("data")
    keyword = ""
    if isinstance(body, dict):
        is_json = "json" in str(_header(request, "Content-Type") or "")
        keyword = f", {'json' if is_json else 'data'}={body!r}"
    elif isinstance(body, list):
        keyword = f", json={body!r}"
    script = "\n".join(
        [
            "import os, sys, threading",
            "sys.path.insert(0, os.getcwd())",
            *source.imports,
            source.import_statement,
            f"app = {source.call}",
            f"app.test_client().open({path!r}, method={method!r}{keyword})",
            "for thread in threading.enumerate():",
            "    if thread is not threading.current_thread():",
            f"        thread.join({THREAD_WAIT})",
        ]
    )
    return Reproduction("request", (python, "-c", script), ".", f"the request {method} {path}")


def _header(request: dict[str, Any], name: str) -> Any:
    headers = request.get("headers")
    if isinstance(headers, dict):
        for key, value in headers.items():
            if str(key).lower() == name.lower():
                return value
    return None


def _production_root(event: dict[str, Any]) -> str | None:
    """The project's root on the production machine: an in-app frame's ``abs_path`` less its
    project-relative ``filename``."""
    for value in (event.get("exception") or {}).get("values") or ():
        for frame in (value.get("stacktrace") or {}).get("frames") or ():
            abs_path, filename = frame.get("abs_path"), frame.get("filename")
            if (
                frame.get("in_app")
                and isinstance(abs_path, str)
                and isinstance(filename, str)
                and not posixpath.isabs(filename)
                and abs_path.endswith("/" + filename)
            ):
                return abs_path[: -len(filename) - 1] or "/"
    return None


def _command(
    argv: list[str], cwd: Any, root: str | None, project: Project, python: str
) -> list[Reproduction]:
    program = posixpath.basename(argv[0])
    rel_cwd = (_inside(cwd, root) if isinstance(cwd, str) else None) or "."
    if program in SERVERS:
        raise CannotReproduce(
            f"the failure happened under {program} and the event records no request or task"
        )
    if program in CONSOLE_MODULES:
        module = CONSOLE_MODULES[program]
        description = f"{program} {' '.join(argv[1:])}"
        return [Reproduction("command", (python, "-m", module, *argv[1:]), rel_cwd, description)]
    if not argv[0].endswith(".py"):
        raise CannotReproduce(f"{argv[0]} is not a Python script tracefix can run again")
    script = _script_path(argv[0], cwd, root, project)
    if script is None:
        raise CannotReproduce(f"the script {argv[0]} is not in the repository")
    description = f"the script {script}"
    as_file = Reproduction(
        "command", (python, posixpath.relpath(script, rel_cwd), *argv[1:]), rel_cwd, description
    )
    dotted = _module_name(script, rel_cwd)
    if dotted is None:
        return [as_file]
    as_module = Reproduction("command", (python, "-m", dotted, *argv[1:]), rel_cwd, description)
    return [as_module, as_file]


def _inside(path: str | None, root: str | None) -> str | None:
    if path is None or root is None:
        return None
    rel = posixpath.relpath(path, root)
    return None if rel.startswith("..") else rel


def _script_path(arg: str, cwd: Any, root: str | None, project: Project) -> str | None:
    """The script's path in the repository."""
    candidates = []
    if posixpath.isabs(arg):
        candidates.append(_inside(arg, root))
        candidates.append(_inside(arg, cwd if isinstance(cwd, str) else None))
    else:
        base = _inside(cwd, root) if isinstance(cwd, str) else None
        candidates.append(posixpath.normpath(posixpath.join(base or ".", arg)))
    for candidate in candidates:
        if candidate is not None and project.source(candidate) is not None:
            return candidate
    matches = [
        path for path in project.python_files() if ("/" + path).endswith("/" + arg.lstrip("./"))
    ]
    return matches[0] if len(matches) == 1 else None


def _module_name(script: str, rel_cwd: str) -> str | None:
    """``scripts.seed_db`` for a script in a folder below ``rel_cwd``: a script there that
    imports the project's packages ran in production with ``-m``, or with the root on
    ``sys.path``, which ``-m`` gives too."""
    rel = posixpath.relpath(script, rel_cwd)
    if rel.startswith("..") or "/" not in rel:
        return None
    return rel.removesuffix(".py").replace("/", ".")
