"""The fix goes where the script starts the failing call, never into the function it calls.

A function such as ``signup_report()`` may also run in a view, where a context is already
pushed; pushing another inside it would reset ``g`` and run teardown twice. The shared codemod
of CTX101 wraps the script's statement instead (``script_module_level/fix.py``).
"""

from __future__ import annotations

from tracefix.recipes.script_module_level.fix import wrap_script_statement

__all__ = ["wrap_script_statement"]
