"""The codemod of CTX107 that is its own: ``@with_appcontext`` on a command under a FlaskGroup.

Pushing the context in the command's body is CTX105's ``wrap_function_body``.
"""

from __future__ import annotations

import libcst as cst

from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import top_level_function


def add_decorator(module: cst.Module, function_name: str, decorator: str) -> cst.Module:
    """``module`` with ``@decorator`` as the innermost decorator of ``function_name``.

    Innermost, right above the ``def``: ``with_appcontext`` wraps the function itself, below
    Click's ``@command()`` and ``@option()``, as Flask's documentation writes it.
    """
    function = top_level_function(module, function_name)
    if any(
        cst.helpers.get_full_name_for_node(existing.decorator) == decorator
        for existing in function.decorators
    ):
        raise SkipFix(f"{function_name}() is already decorated with @{decorator}")
    added = cst.Decorator(decorator=cst.parse_expression(decorator))
    if not function.decorators:
        added = added.with_changes(leading_lines=function.leading_lines)
        function = function.with_changes(leading_lines=())
    changed = function.with_changes(decorators=[*function.decorators, added])
    replaced = module.deep_replace(top_level_function(module, function_name), changed)
    assert isinstance(replaced, cst.Module)
    return replaced
