"""``tracefix scan``: the recipes' causes found in code before it runs.

The scan reads a project once (``files``: which files, honouring ``.gitignore`` and the
configured excludes), parses each file once with ``ast`` (shared by every recipe through
``Project``), asks every selected recipe's ``detect`` where its cause will happen
(``engine``), drops what a ``# tracefix: ignore[CODE]`` comment suppresses (``suppressions``),
and renders the findings as text, JSON, SARIF or GitHub annotations (``formats``). With
``--fix`` it runs the recipes' own LibCST codemods on the findings whose fix is safe
(``fixing``); LibCST is loaded only then.

``context_use`` is the static analysis the detectors share: which expressions fail outside an
app context, and which project functions reach one.
"""
