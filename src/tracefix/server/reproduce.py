"""How to run a production failure again in a checkout of the project, pure: event in, command
out.

The event says how the failing code was started. In order of preference:

- a request (the failing thread's own, our SDK's ``contexts.flask.spawned_by`` for a thread a
  view started, or ``request`` as sentry-sdk sends it, its scope carried into threads): the
  request is replayed through the app's ``test_client``, the app created the way the project
  creates it (``diagnose.apps``), and every thread it started is waited for;
- a test (``contexts.entry.test``): ``python -m pytest NODEID``;
- a Celery task a worker ran (our SDK's ``contexts.celery``, sentry-sdk's
  ``extra["celery-job"]``): the task is run eagerly (``apply(..., throw=True)``) in a Python
  process that finds the Celery app the way the worker did (its ``-A``, else the project's
  module-level ``Celery(...)``), with the arguments the event recorded. Those are only kept
  bounded and scrubbed, so the task is replayed only when every argument is there in full;
- a command (``contexts.entry.argv``, else ``extra["sys.argv"]``): a script, ``python -m``, or
  a console script such as ``flask`` or ``pytest`` run as a module of the project's interpreter.

Anything else (a WSGI server with no request in the event, a worker's task whose arguments were
cut or scrubbed) cannot be re-run from the event: ``CannotReproduce`` says why.
"""

from __future__ import annotations

import ast
import math
import posixpath
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tracefix.capture._hook.tracefix_capture import MAX_REPR
from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.project import Project
from tracefix.recipes.celery_task.celery_apps import CelerySetup
from tracefix.recipes.celery_task.celery_apps import TaskFunction
from tracefix.sdk.integrations.celery import MAX_ARGS
from tracefix.sdk.scrubber import FILTERED

#: Console scripts that are the entry point of a Python module of the same purpose.
CONSOLE_MODULES = {"flask": "flask", "pytest": "pytest", "py.test": "pytest"}
#: Processes that serve requests or run tasks: their argv alone does not re-run a failure.
SERVERS = frozenset({"gunicorn", "uwsgi", "waitress-serve", "celery", "hypercorn", "uvicorn"})
#: Seconds the replay waits for each thread the request started.
THREAD_WAIT = 60
#: The repr of an object that is not a literal: ``<User 12>``, ``<x.Order object at 0x7f..>``,
#: ``Decimal('1.5')``, ``UUID('...')``.
OBJECT_REPR = re.compile(r"<[\w.]+[ :].*>|[A-Z][\w.]*\(.*\)", re.DOTALL)


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
    if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
        argv = None
    task_name = _task_name(event, contexts)
    if task_name is not None and (argv is None or _is_celery_worker(argv)):
        rel_cwd = _inside(entry.get("cwd"), _production_root(event)) or "."
        return [_task_replay(event, contexts, task_name, argv, rel_cwd, project, python)]
    if argv is not None:
        return _command(argv, entry.get("cwd"), _production_root(event), project, python)
    raise CannotReproduce("the event records neither a request, a test, a task nor a command")


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
    rel_cwd = _inside(cwd, root) or "."
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


def _inside(path: Any, root: str | None) -> str | None:
    if not isinstance(path, str) or root is None:
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
        base = _inside(cwd, root)
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


def _task_name(event: dict[str, Any], contexts: dict[str, Any]) -> str | None:
    """The name of the Celery task the event comes from: our SDK's ``contexts.celery``, else
    sentry-sdk's ``extra["celery-job"]``."""
    celery = contexts.get("celery")
    if isinstance(celery, dict) and isinstance(celery.get("task"), str) and celery["task"]:
        return str(celery["task"])
    job = (event.get("extra") or {}).get("celery-job")
    if isinstance(job, dict) and isinstance(job.get("task_name"), str) and job["task_name"]:
        return str(job["task_name"])
    return None


def _is_celery_worker(argv: list[str]) -> bool:
    """``celery ... worker``, from the console script or ``python -m celery``."""
    program = argv[0].replace("\\", "/")
    is_celery = posixpath.basename(program) == "celery" or program.endswith("celery/__main__.py")
    return is_celery and "worker" in argv[1:]


def _task_replay(
    event: dict[str, Any],
    contexts: dict[str, Any],
    name: str,
    worker_argv: list[str] | None,
    rel_cwd: str,
    project: Project,
    python: str,
) -> Reproduction:
    """A process that runs the task eagerly, as a developer reproduces a worker's failure:
    the same Celery app, the same arguments, the task's exception raised to the top."""
    args, kwargs = _task_arguments(event, contexts)
    setup = CelerySetup(project)
    task = setup.task_named(name)
    if task is None:
        raise CannotReproduce(f"the project declares no Celery task named {name}")
    module = project.module_name(task.path)
    if module is None:
        raise CannotReproduce(f"{task.path}, which declares the task {name}, is not importable")
    celery_app = (_worker_app(worker_argv) if worker_argv else None) or _module_level_app(
        setup, task, name
    )
    script = "\n".join(
        [
            "import importlib, os, sys",
            "sys.path.insert(0, os.getcwd())",
            "from celery.app.utils import find_app",
            f"celery_app = find_app({celery_app!r})",
            "celery_app.loader.import_default_modules()",
            f"importlib.import_module({module!r})",
            f"celery_app.tasks[{name!r}].apply(args={args!r}, kwargs={kwargs!r}, throw=True)",
        ]
    )
    return Reproduction("task", (python, "-c", script), rel_cwd, f"the Celery task {name}")


def _worker_app(argv: list[str]) -> str | None:
    """The worker's ``-A``/``--app``: the Celery app as the worker found it."""
    for index, arg in enumerate(argv[1:], start=1):
        if arg in ("-A", "--app") and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--app="):
            return arg.removeprefix("--app=")
        if arg.startswith("-A") and len(arg) > 2:
            return arg[2:]
    return None


def _module_level_app(setup: CelerySetup, task: TaskFunction, name: str) -> str:
    """``module:name`` of the module-level Celery app that runs ``task``, for a worker whose
    ``-A`` the event does not record."""
    celery = setup.app_of(task)
    binding = setup.module_binding(celery) if celery and celery.function is None else None
    module = setup.project.module_name(binding.path) if binding is not None else None
    if binding is None or module is None:
        raise CannotReproduce(
            f"the event does not record the worker's Celery app (celery -A), and the project "
            f"has no module-level Celery app that runs {name}"
        )
    return f"{module}:{binding.name}"


def _task_arguments(
    event: dict[str, Any], contexts: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """The task's arguments, only when the event has every one of them in full."""
    celery = contexts.get("celery")
    if isinstance(celery, dict) and celery.get("task"):
        return _arguments_from_reprs(celery.get("args"), celery.get("kwargs"))
    job = (event.get("extra") or {}).get("celery-job") or {}
    meta = ((event.get("_meta") or {}).get("extra") or {}).get("celery-job")
    return _arguments_from_values(job.get("args"), job.get("kwargs"), meta)


def _arguments_from_reprs(args: Any, kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    """Our SDK keeps up to ``MAX_ARGS`` arguments of each kind, each as a repr cut at
    ``MAX_REPR`` characters (the inner parts of a deep or long container as ``...``)."""
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise CannotReproduce("the event does not record the task's arguments")
    if len(args) >= MAX_ARGS or len(kwargs) >= MAX_ARGS:
        raise CannotReproduce(
            f"the task's arguments were truncated (the event keeps {MAX_ARGS} of each kind)"
        )
    values = [_literal(text) for text in args]
    named = {str(key): _literal(text) for key, text in kwargs.items()}
    return values, named


def _literal(text: Any) -> Any:
    if not isinstance(text, str):
        raise CannotReproduce("the event does not record the task's arguments as reprs")
    if len(text) >= MAX_REPR:
        raise CannotReproduce(
            f"the task's arguments were truncated ({text[:40]}... is cut at {MAX_REPR} characters)"
        )
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        if "..." in text:
            raise CannotReproduce(
                f"the task's arguments were truncated ({text} has a part cut)"
            ) from None
        raise CannotReproduce(
            f"the task's argument {text} is not a Python literal, so its value is unknown"
        ) from None
    _check_complete(value, text)
    return value


def _arguments_from_values(args: Any, kwargs: Any, meta: Any) -> tuple[list[Any], dict[str, Any]]:
    """sentry-sdk sends the arguments themselves, ``[Filtered]`` without
    ``send_default_pii``, and notes in the event's ``_meta`` what its serializer cut."""
    if args == FILTERED or kwargs == FILTERED:
        raise CannotReproduce(
            "the task's arguments were filtered (sentry-sdk sends them only with "
            "send_default_pii=True)"
        )
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise CannotReproduce("the event does not record the task's arguments")
    if meta:
        raise CannotReproduce("the task's arguments were truncated (the event's _meta says so)")
    for value in [*args, *kwargs.values()]:
        _check_complete(value, repr(value), strings_may_be_reprs=True)
    return args, {str(key): value for key, value in kwargs.items()}


def _check_complete(value: Any, shown: str, *, strings_may_be_reprs: bool = False) -> None:
    """Refuse a value with a part cut (``...``) or scrubbed (``[Filtered]``) out of it: a task
    replayed with other arguments than production's is a wrong replay. Where an object that is
    not JSON was sent as its repr (sentry-sdk's serializer), a string that reads as one is
    refused too: it was an object in production."""
    if value is Ellipsis:
        raise CannotReproduce(f"the task's arguments were truncated ({shown} has a part cut)")
    if isinstance(value, str) and FILTERED in value:
        raise CannotReproduce(f"the task's argument {shown} was scrubbed of a secret")
    if strings_may_be_reprs and isinstance(value, str) and OBJECT_REPR.fullmatch(value):
        raise CannotReproduce(
            f"the task's argument {shown} is the repr of an object, so its value is unknown"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise CannotReproduce(f"the task's argument {shown} is not a finite number")
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    else:
        return
    for item in items:
        _check_complete(item, shown, strings_may_be_reprs=strings_may_be_reprs)
