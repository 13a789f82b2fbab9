"""The one table of recipes. Adding a cause means adding a folder and one line here.

Order matters: ``diagnose`` asks recipes in this order and takes the first answer, so narrower
recipes come before broader ones. ``tests/test_registry.py`` fails when a recipe folder is
missing from the table, a code repeats, or a recipe has no fix case and no noop case.
"""

from __future__ import annotations

from tracefix.recipes._base import Recipe
from tracefix.recipes.async_executor import ExecutorCallInAsyncViewWithoutContext
from tracefix.recipes.celery_task import CeleryTaskWithoutAppContext
from tracefix.recipes.click_command import ClickCommandWithoutAppContext
from tracefix.recipes.executor_task import ExecutorTaskWithoutAppContext
from tracefix.recipes.exit_handler import ExitHandlerWithoutAppContext
from tracefix.recipes.extension_not_registered import ExtensionNotRegistered
from tracefix.recipes.greenlet_target import GreenletTargetWithoutAppContext
from tracefix.recipes.import_time_use import ImportTimeContextUse
from tracefix.recipes.process_target import ProcessTargetWithoutAppContext
from tracefix.recipes.request_in_thread import RequestReadInThread
from tracefix.recipes.scheduled_job import ScheduledJobWithoutAppContext
from tracefix.recipes.script_entry import ScriptEntry
from tracefix.recipes.script_module_level import ScriptModuleLevel
from tracefix.recipes.streamed_response import StreamedResponseWithoutContext
from tracefix.recipes.test_without_context import AppContextMissingInTest
from tracefix.recipes.thread_target import ThreadTargetWithoutAppContext
from tracefix.recipes.url_for_outside_request import UrlForOutsideRequest

RECIPES: tuple[type[Recipe], ...] = (
    CeleryTaskWithoutAppContext,  # CTX105
    ClickCommandWithoutAppContext,  # CTX107
    ScheduledJobWithoutAppContext,  # CTX113
    ExitHandlerWithoutAppContext,  # CTX114
    GreenletTargetWithoutAppContext,  # CTX115
    ProcessTargetWithoutAppContext,  # CTX116
    ExecutorCallInAsyncViewWithoutContext,  # CTX117
    UrlForOutsideRequest,  # CTX112
    ScriptModuleLevel,  # CTX101
    ScriptEntry,  # CTX102
    StreamedResponseWithoutContext,  # CTX109
    RequestReadInThread,  # CTX108
    ExecutorTaskWithoutAppContext,  # CTX106
    ThreadTargetWithoutAppContext,  # CTX103
    AppContextMissingInTest,  # CTX104
    ImportTimeContextUse,  # CTX110
    ExtensionNotRegistered,  # CTX111
)


def all_recipes() -> tuple[Recipe, ...]:
    return tuple(recipe_class() for recipe_class in RECIPES)


def recipe_by_code(code: str) -> Recipe:
    for recipe in all_recipes():
        if recipe.code == code:
            return recipe
    raise KeyError(code)
