"""tracefix's start-up hook, loaded by ``site`` because ``tracefix run`` puts this folder first
on ``PYTHONPATH``.

It records uncaught exceptions (main thread and other threads), those Flask handles itself
(a view's error, answered with a 500), and, at exit, a Flask context left pushed. Being first
on the path, it shadows any ``sitecustomize`` the environment already had, so it runs that one
too: the user's start-up must behave exactly as without tracefix.

Every interpreter start goes through this file, so it costs nothing when ``TRACEFIX_CAPTURE_DIR``
is unset, imports the event builder only when it is set, and never lets its own errors out.
``threading`` is imported eagerly when capturing: nearly every program imports it anyway, and
its hook must be in place before the first thread starts.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any


#: Our ``sys.excepthook``, to tell at exit whether the program replaced it.
_installed: list[object] = []


def _install() -> None:
    import atexit
    import threading

    import tracefix_capture  # type: ignore[import-not-found]

    tracefix_capture.mark_hooked()
    previous_excepthook = sys.excepthook

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if not issubclass(exc_type, KeyboardInterrupt):
            tracefix_capture.record_exception(exc_type, exc, tb, mechanism="excepthook")
        previous_excepthook(exc_type, exc, tb)

    sys.excepthook = excepthook
    _installed.append(excepthook)
    atexit.register(_at_exit)
    if hasattr(threading, "excepthook"):  # Python 3.8+
        threading.excepthook = tracefix_capture.chained_thread_excepthook(threading.excepthook)
    if hasattr(sys, "unraisablehook"):  # Python 3.8+
        previous_unraisablehook = sys.unraisablehook

        def unraisablehook(args: Any) -> None:
            tracefix_capture.record_unraisable(args)
            previous_unraisablehook(args)

        sys.unraisablehook = unraisablehook
    if "flask" in sys.modules:
        tracefix_capture.watch_flask(sys.modules["flask"])
    else:
        sys.meta_path.insert(0, _FlaskImport())


class _FlaskImport:
    """Hands ``flask`` to ``watch_flask`` once it is imported: a finder that answers for no
    module, but wraps the loader the others find for ``flask``, and leaves after that."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "flask":
            return None
        try:
            sys.meta_path.remove(self)
            from importlib.util import find_spec

            spec = find_spec(name)
            loader = spec.loader if spec is not None else None
            exec_module = getattr(loader, "exec_module", None)
            if exec_module is None:
                return spec

            def exec_and_watch(module: Any) -> None:
                exec_module(module)
                import tracefix_capture

                tracefix_capture.watch_flask(module)

            loader.exec_module = exec_and_watch  # type: ignore[union-attr,method-assign]
            return spec
        except Exception:
            return None


def _at_exit() -> None:
    """Runs after the program's own atexit callbacks (it was registered before them)."""
    try:
        import tracefix_capture

        if _installed and sys.excepthook is not _installed[0]:
            tracefix_capture.record_last_uncaught()
        if "flask" not in sys.modules or tracefix_capture.leaks_reported:
            return
        detail = tracefix_capture.pushed_context_detail()
        if detail is not None:
            tracefix_capture.record_leak("exit", detail)
    except BaseException:
        pass


def _run_shadowed_sitecustomize() -> None:
    """Find the next ``sitecustomize`` on ``sys.path`` after this folder and run it in our place.

    Its errors propagate, so ``site`` reports them exactly as it would have without tracefix.
    The import system's frozen modules are already loaded at start-up; ``importlib.util`` would
    cost more than everything else this file does.
    """
    try:
        bootstrap: Any = sys.modules.get("_frozen_importlib")
        external: Any = sys.modules.get("_frozen_importlib_external")
        if bootstrap is None or external is None:
            import importlib.machinery as external
            import importlib.util as bootstrap
        here = os.path.dirname(os.path.realpath(__file__))
        search = [p for p in sys.path if os.path.realpath(p or os.curdir) != here]
        spec = external.PathFinder.find_spec("sitecustomize", search)
        if spec is None or spec.loader is None:
            return
        module = bootstrap.module_from_spec(spec)
    except Exception:
        return
    ours = sys.modules.get("sitecustomize")
    sys.modules["sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if ours is not None:
            sys.modules["sitecustomize"] = ours
        raise


def _import_from_worktree() -> None:
    """In a verification run, import the project from the worktree rather than the user's tree.

    An editable install (``pip install -e .``) points the interpreter at the user's checkout:
    a ``.pth`` line that puts the checkout (a flat layout such as Flask's tutorial) on
    ``sys.path``, or setuptools' ``__editable___*_finder`` with a map of packages to folders.
    Left alone, a run in the worktree would import the user's unfixed code. Each such entry that
    exists in the worktree is moved there, in its place on the path; one that does not (a
    ``.venv`` inside the checkout, ignored by git) stays.
    """
    user_tree = os.environ.get("TRACEFIX_USER_TREE")
    worktree = os.environ.get("TRACEFIX_WORKTREE")
    if not user_tree or not worktree:
        return
    inside = user_tree.rstrip(os.sep) + os.sep

    def moved(entry: str) -> str:
        if not isinstance(entry, str) or not entry:
            return entry
        real = os.path.realpath(entry)
        if real != user_tree and not real.startswith(inside):
            return entry
        target = worktree + real[len(user_tree) :]
        return target if os.path.exists(target) else entry

    sys.path[:] = [moved(entry) for entry in sys.path]
    for name, module in list(sys.modules.items()):
        if not (name.startswith("__editable__") and name.endswith("_finder")):
            continue
        mapping = getattr(module, "MAPPING", None)
        if isinstance(mapping, dict):
            for key, value in list(mapping.items()):
                mapping[key] = moved(value)
        namespaces = getattr(module, "NAMESPACES", None)
        if isinstance(namespaces, dict):
            for key, value in list(namespaces.items()):
                if isinstance(value, list):
                    namespaces[key] = [moved(entry) for entry in value]


def _main() -> None:
    try:
        _import_from_worktree()
    except Exception:
        pass
    shadowed_error = None
    try:
        _run_shadowed_sitecustomize()
    except Exception as exc:
        shadowed_error = exc
    if os.environ.get("TRACEFIX_CAPTURE_DIR"):
        try:
            _install()
        except BaseException:
            pass
    if shadowed_error is not None:
        raise shadowed_error


_main()
