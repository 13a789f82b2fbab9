"""The one table of recipes. Adding a cause means adding a folder and one line here.

Order matters: ``diagnose`` asks recipes in this order and takes the first answer, so narrower
recipes come before broader ones. ``tests/test_registry.py`` fails when a recipe folder is
missing from the table, a code repeats, a row's code is not its class's, or a recipe has no fix
case and no noop case.

The table names each recipe's folder and class rather than importing them: ``tracefix scan
--select`` imports only the recipes it runs (importing all 17 took 55 ms, a twelfth of a scan
of 50,000 lines; the four semgrep's rules also cover, 24 ms). ``RECIPES``, the classes
themselves, imports them all when first read.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING
from typing import Any

from tracefix.recipes._base import Recipe

#: Each recipe: its code, its folder under ``recipes/`` and its class there.
TABLE: tuple[tuple[str, str, str], ...] = (
    ("CTX105", "celery_task", "CeleryTaskWithoutAppContext"),
    ("CTX107", "click_command", "ClickCommandWithoutAppContext"),
    ("CTX113", "scheduled_job", "ScheduledJobWithoutAppContext"),
    ("CTX114", "exit_handler", "ExitHandlerWithoutAppContext"),
    ("CTX115", "greenlet_target", "GreenletTargetWithoutAppContext"),
    ("CTX116", "process_target", "ProcessTargetWithoutAppContext"),
    ("CTX117", "async_executor", "ExecutorCallInAsyncViewWithoutContext"),
    ("CTX112", "url_for_outside_request", "UrlForOutsideRequest"),
    ("CTX101", "script_module_level", "ScriptModuleLevel"),
    ("CTX102", "script_entry", "ScriptEntry"),
    ("CTX109", "streamed_response", "StreamedResponseWithoutContext"),
    ("CTX108", "request_in_thread", "RequestReadInThread"),
    ("CTX106", "executor_task", "ExecutorTaskWithoutAppContext"),
    ("CTX103", "thread_target", "ThreadTargetWithoutAppContext"),
    ("CTX104", "test_without_context", "AppContextMissingInTest"),
    ("CTX110", "import_time_use", "ImportTimeContextUse"),
    ("CTX111", "extension_not_registered", "ExtensionNotRegistered"),
)

if TYPE_CHECKING:
    RECIPES: tuple[type[Recipe], ...]


def __getattr__(name: str) -> Any:
    if name == "RECIPES":
        return _all_classes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def codes() -> tuple[str, ...]:
    """Every recipe's code, in the table's order, without importing any recipe."""
    return tuple(code for code, _, _ in TABLE)


def recipes_for(wanted: set[str]) -> tuple[Recipe, ...]:
    """The recipes whose codes are in ``wanted``, in the table's order: only they are imported."""
    return tuple(_recipe_class(folder, cls)() for code, folder, cls in TABLE if code in wanted)


def all_recipes() -> tuple[Recipe, ...]:
    return tuple(recipe_class() for recipe_class in _all_classes())


def recipe_by_code(code: str) -> Recipe:
    for recipe in all_recipes():
        if recipe.code == code:
            return recipe
    raise KeyError(code)


@functools.cache
def _all_classes() -> tuple[type[Recipe], ...]:
    return tuple(_recipe_class(folder, name) for _, folder, name in TABLE)


def _recipe_class(folder: str, name: str) -> type[Recipe]:
    recipe_class: type[Recipe] = getattr(importlib.import_module(f"{__name__}.{folder}"), name)
    return recipe_class
