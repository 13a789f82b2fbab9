"""Run the recipes over an event; the first that recognises it gives the diagnosis."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.project import Project
from tracefix.errors import TracefixError
from tracefix.event import Event

if TYPE_CHECKING:
    from tracefix.recipes._base import Recipe

logger = logging.getLogger(__name__)


def diagnose(
    event: Event, project: Project, recipes: Sequence[Recipe] | None = None
) -> Diagnosis | None:
    """The diagnosis of the first recipe, in table order, that recognises ``event``.

    A recipe that crashes is logged and skipped, so one broken recipe cannot hide the others
    (thefuck's ``is_match``). ``TracefixError`` (a syntax error in the user's code) propagates.
    """
    if recipes is None:
        from tracefix.recipes import all_recipes

        recipes = all_recipes()
    for recipe in recipes:
        try:
            diagnosis = recipe.diagnose(event, project)
        except TracefixError:
            raise
        except Exception:
            logger.exception("recipe %s failed on event %s", recipe.code, event.event_id)
            continue
        if diagnosis is not None:
            return diagnosis
    return None
