"""CTX107 click-command-without-app-context: a plain Click command run as a script
(``python manage.py CMD``), which no one gave an app context."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.apps import factory_defined_in
from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import is_context_call
from tracefix.diagnose.apps import is_test_path
from tracefix.diagnose.apps import pushes_by_decorator
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import per_project
from tracefix.diagnose.signatures import is_app_context_error
from tracefix.diagnose.signatures import is_library_frame
from tracefix.event import Event
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes._base import plan_or_reason
from tracefix.recipes._scopes import local_names
from tracefix.recipes.celery_task.context_use import ContextUses
from tracefix.recipes.celery_task.names import Binding
from tracefix.recipes.celery_task.names import External
from tracefix.recipes.celery_task.names import Names
from tracefix.recipes.celery_task.names import Target
from tracefix.recipes.click_command.commands import ClickCli
from tracefix.recipes.click_command.commands import Command

#: Where Click calls a command's function: ``Context.invoke`` (``callback(*args, **kwargs)``).
CLICK_CORE = "click/core.py"
WITH_APPCONTEXT_IMPORT = "from flask.cli import with_appcontext"
APP_NAMES = ("app", "flask_app")


@dataclass(frozen=True)
class Plan:
    """How the command gets its context.

    ``with_appcontext``: the command hangs under a ``FlaskGroup``, which has the app;
    ``@with_appcontext`` pushes its context. ``push``: ``with <app>.app_context():`` around the
    command's body, after ``setup`` (the factory's call), with ``imports``.
    """

    kind: Literal["with_appcontext", "push"]
    app: str | None = None
    imports: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    #: For ``push``: the text that says where the app comes from.
    source: str = ""
    #: For ``push``: the first statement of the body to wrap, when the command makes its own
    #: app in the statements before it.
    start: int | None = None


class ClickCommandWithoutAppContext(Recipe):
    """A plain Click command uses Flask, but nothing gave it an app context.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised in a function that
    Click called as a command (the frame after `click/core.py`'s `invoke`), where the function
    is declared as a plain Click command or group: `@click.command()`, `@click.group()`, or on
    a group made with them, such as `python manage.py seed` with a `@click.group()` in
    `manage.py`, or a plain group added to a `FlaskGroup` (Lemur's `cli.add_command(...)`:
    Flask's command line pushes a context only for the app's own `app.cli` commands).

    It leaves alone commands declared on `app.cli`, a blueprint's `cli`, a `FlaskGroup` or an
    `AppGroup` (Flask wraps those in `with_appcontext`), functions already decorated with
    `@with_appcontext`, and commands that push a context themselves.

    ## Why is this bad?
    Flask pushes an app context for a command only when Flask's own command line runs it
    (`flask seed`, or a `FlaskGroup`). A script that builds its command line with plain Click
    (`@click.group()` in `manage.py`, run as `python manage.py seed`) runs the command with no
    context, so `db.session`, `current_app` and `url_for` fail in it.

    ## Example
        # manage.py
        @click.group()
        def cli():
            pass

        @cli.command()
        def seed():
            db.session.add(User(name="admin"))
            db.session.commit()

        if __name__ == "__main__":
            cli()

    ## Use instead
        # manage.py
        @cli.command()
        def seed():
            app = create_app()
            with app.app_context():
                db.session.add(User(name="admin"))
                db.session.commit()

    The app is the one the script already has at module level, else the project's factory
    called as its entry files (`wsgi.py`, `manage.py`) call it, else its module-level instance.
    When the command hangs under a `FlaskGroup` (added with `cli.add_command(seed)`), the fix is
    `@with_appcontext` instead, which pushes the context of the group's own app.

    ## Fix safety
    Safe. The context is pushed in the command, the program's entry point, with `with` (popped
    when the command returns) or by `@with_appcontext` (popped when Click's context closes).
    A command that builds its app with the factory is left alone when a test invokes it (or a
    group above it): a test may run it inside its own app's context, and a second app made by
    the command would use the real configuration instead. Registering the command on `app.cli`
    and running it as `flask seed` is the other idiomatic fix, but it changes how the command is
    run, so it is not made here. Commands that read `request` or `session` (which no command
    has) are left alone.

    ## References
    - Flask docs, "Command Line Interface": Application Context, Custom Scripts (`FlaskGroup`)
    - Flask docs, "The Application Context": Manually Push a Context
    - docs/context-errors.md §1.8 `click_command_no_context`
    """

    code = "CTX107"
    name = "click-command-without-app-context"
    summary = "A plain Click command uses Flask, but nothing pushes an app context for it"
    fix_title = "Push the app context in the command (or `@with_appcontext` under a FlaskGroup)"
    applicability = Applicability.SAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        from tracefix.recipes._codemod import relocate_line  # LibCST: not on scan's path

        if not is_app_context_error(event.exception) or event.in_thread:
            return None
        frame = command_frame(event.frames)
        if frame is None or project.source(frame.filename) is None or frame.lineno is None:
            return None
        cli = ClickCli(project)
        command = cli.command(frame.filename, frame.function)
        if command is None:
            return None
        path, function = command.path, command.function
        line = relocate_line(project.source(path) or "", frame.lineno, frame.context_line)
        if line is None or not function.lineno <= line <= (function.end_lineno or 0):
            return None
        if inside_app_context(project, path, line) or pushes_context(function):
            return None
        plan, unfixable = plan_or_reason(plan_fix, project, cli, command)
        return self.diagnosis(
            _explanation(command, line, plan, unfixable),
            Location(path, line),
            command={"path": path, "function": function.name, "line": line},
            **unfixable,
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        if "click" not in (project.source(path) or ""):
            return
        cli = ClickCli(project)
        uses: ContextUses | None = None
        for command in cli.commands(path):
            function = command.function
            if pushes_context(function) or _has_context_from_elsewhere(project, cli, command):
                continue
            uses = uses or ContextUses(project, cli.names)
            use = uses.first(path, function)
            if use is None or inside_app_context(project, path, use.line):
                continue
            plan, unfixable = plan_or_reason(plan_fix, project, cli, command)
            yield self.diagnosis(
                _explanation(command, use.line, plan, unfixable, used=use.describe()),
                Location(path, use.line, use.column),
                command={"path": path, "function": function.name, "line": use.line},
                **unfixable,
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes._codemod import statement_chain
        from tracefix.recipes._imports import add_project_imports
        from tracefix.recipes.celery_task.fix import wrap_function_body
        from tracefix.recipes.click_command.fix import add_decorator

        facts = diagnosis.facts["command"]
        path, name = facts["path"], facts["function"]
        cli = ClickCli(project)
        command = cli.command(path, name)
        if command is None:
            raise SkipFix(f"{path} no longer declares the plain Click command {name}()")
        function = command.function
        if pushes_context(function) or inside_app_context(project, path, function.body[0].lineno):
            raise SkipFix(f"{name}() already has an app context")
        plan = plan_fix(project, cli, command)
        module = project.cst(path)
        top = statement_chain(module, function.lineno)[0].index
        if plan.kind == "with_appcontext":
            module = add_project_imports(project, module, [WITH_APPCONTEXT_IMPORT], before=top)
            module = add_decorator(module, name, "with_appcontext")
        else:
            assert plan.app is not None
            module = add_project_imports(project, module, plan.imports, before=top)
            module = wrap_function_body(
                module, name, f"{plan.app}.app_context()", before=plan.setup, start=plan.start
            )
        return (FileChange(path, project.source(path), module.code),)


def command_frame(frames: tuple[Frame, ...]) -> Frame | None:
    """The project frame Click called as a command's function, when it is the last such call.

    Flask's command line (``flask/cli.py`` in the stack) is no sign of a context: ``FlaskGroup``
    pushes one only for the app's own ``app.cli`` commands, which are not plain Click commands,
    not for a plain group added to it (Lemur's ``cli.add_command(source_cli)``) or a plugin's.
    """
    found = None
    for before, after in zip(frames, frames[1:], strict=False):
        if is_library_frame(before, CLICK_CORE, "invoke") and after.in_app:
            found = after
    return found


def pushes_context(function: ast.FunctionDef) -> bool:
    """Whether the function makes a context itself anywhere in its body: it manages its own."""
    return any(
        isinstance(node, ast.Call) and is_context_call(node, with_client=False)
        for node in walk(function)
    )


def plan_fix(project: Project, cli: ClickCli, command: Command) -> Plan:
    """How ``command`` gets its context; ``SkipFix`` says why no way is safe."""
    path, function = command.path, command.function
    name = function.name
    reads = ContextUses(project, cli.names).reads_request(path, function)
    if reads:
        raise SkipFix(
            f"{name}() reads {', '.join(reads)}, which belong to a request; a command has none"
        )
    if cli.uses_flask_group():
        routes = cli.routes(path, name)
        if routes == {"flask"}:
            return Plan("with_appcontext")
        if "flask" in routes:
            raise SkipFix(
                f"{name}() hangs under a FlaskGroup and under other groups; which one runs "
                "it decides the fix"
            )
    own = _own_app(cli, path, function)
    if own is not None:
        index, app_name = own
        return Plan(
            "push", app_name, source=f"the app it makes itself ({app_name})", start=index + 1
        )
    from tracefix.recipes._codemod import names_used  # LibCST: only where a command is found

    module = project.cst(path)
    local = local_names(function)
    in_scope = app_name_in_scope(project, path)
    if in_scope is not None:
        if in_scope in local:
            raise SkipFix(f"{name}() has a local {in_scope!r} that hides the script's app")
        _refuse_if_tests_invoke(project, cli, command, factory_made=_factory_made(project))
        return Plan("push", in_scope, source=f"the app {path} makes at module level ({in_scope})")
    app = next((n for n in APP_NAMES if n not in local and n not in names_used(module)), None)
    own_factory = factory_defined_in(project, path)
    if own_factory is not None:
        if app is None:
            raise SkipFix(f"{name}() already uses the names {' and '.join(APP_NAMES)}")
        _refuse_if_tests_invoke(project, cli, command, factory_made=True)
        return Plan(
            "push", app, setup=(f"{app} = {own_factory}()",), source=f"{own_factory}() of {path}"
        )
    source = find_app_source(project, near=path)
    if source is None:
        raise SkipFix(
            "no single Flask app factory or instance found that the command can import "
            "without guessing its configuration"
        )
    if source.kind == "factory":
        if app is None:
            raise SkipFix(f"{name}() already uses the names {' and '.join(APP_NAMES)}")
        _refuse_if_tests_invoke(project, cli, command, factory_made=True)
        return Plan(
            "push",
            app,
            imports=(*source.imports, source.import_statement),
            setup=(f"{app} = {source.call}",),
            source=f"{source.call}, as the project's entry files make it",
        )
    if source.name in names_used(module) or source.name in local:
        raise SkipFix(f"{path} already uses the name {source.name!r} of the project's app")
    return Plan(
        "push",
        source.name,
        imports=(source.import_statement,),
        source=f"the project's app ({source.import_statement})",
    )


def _own_app(cli: ClickCli, path: str, function: ast.FunctionDef) -> tuple[int, str] | None:
    """``(index, name)`` of a statement of the command's body that makes a Flask app,
    ``name = create_app(...)`` or ``name = Flask(...)``, with the body after it not rebinding
    ``name``: the command's own app, which then only needs its context pushed."""
    local = cli.names.local_scope(path, function)
    for index, statement in enumerate(function.body):
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Call)
        ):
            continue
        name = statement.targets[0].id
        made_by = cli.names.resolve(path, statement.value.func, local)
        if not (_is_flask_class(made_by) or _makes_flask_app(cli, made_by)):
            continue
        later = function.body[index + 1 :]
        rebound = any(
            isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
            for statement_after in later
            for node in walk(statement_after)
        )
        return None if rebound or not later else (index, name)
    return None


def _is_flask_class(target: object) -> bool:
    return isinstance(target, External) and target.dotted in ("flask.Flask", "flask.app.Flask")


def _makes_flask_app(cli: ClickCli, target: object) -> bool:
    """Whether ``target`` is a project function that calls ``Flask(...)``: a factory."""
    if not isinstance(target, Binding) or not isinstance(target.statement, ast.FunctionDef):
        return False
    return any(
        isinstance(node, ast.Call) and _is_flask_class(cli.names.resolve(target.path, node.func))
        for node in walk(target.statement)
    )


def _refuse_if_tests_invoke(
    project: Project, cli: ClickCli, command: Command, *, factory_made: bool
) -> None:
    """``SkipFix`` when a test invokes the command, or a group above it, and the command's app
    would be made by the factory: a test may run it in its own app's context, and the
    command's own app would have the real configuration (a real database) instead."""
    if not factory_made:
        return
    wanted = {(command.path, command.function.name)}
    for parent in cli.ancestors(command.path, command.function.name):
        if parent.binding is not None:
            wanted.add((parent.binding.path, parent.binding.name))
    names = cli.names
    for path in project.python_files():
        tree = project.ast(path) if is_test_path(path) else None
        if tree is None:
            continue
        for node in walk(tree):
            if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
                target = names.resolve(path, node, _scope_at(names, path, tree, node))
                if isinstance(target, Binding) and (target.path, target.name) in wanted:
                    raise SkipFix(
                        f"{path}:{node.lineno} invokes {ast.unparse(node)} from a test, which may "
                        "run it in the test app's context; an app the command makes itself "
                        "would have the real configuration"
                    )


def _scope_at(
    names: Names, path: str, tree: ast.Module, node: ast.AST
) -> dict[str, Target | None] | None:
    """The local scope of the top-level function around ``node``, for imports made in tests."""
    line = getattr(node, "lineno", 0)
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef) and (
            statement.lineno <= line <= (statement.end_lineno or statement.lineno)
        ):
            return names.local_scope(path, statement)
    return None


def _has_context_from_elsewhere(project: Project, cli: ClickCli, command: Command) -> bool:
    """Whether something outside the command may give it a context, so ``detect`` stays
    silent: a group above it that is a Flask CLI (``app.cli``) or pushes one (in its body, or
    Lemur's ``@with_appcontext`` on the group, whose context its commands run in), a group it
    cannot read, or a call of the command or a group above it made inside an app context
    (``with app.app_context(): cli()``)."""
    wanted = {(command.path, command.function.name)}
    for parent in cli.ancestors(command.path, command.function.name):
        if parent.kind in ("flask_cli", "unknown", "app_group"):
            return True
        binding = parent.binding
        if binding is not None:
            wanted.add((binding.path, binding.name))
            group = binding.statement
            if isinstance(group, ast.FunctionDef) and (
                pushes_context(group) or pushes_by_decorator(group)
            ):
                return True
    return any(inside_app_context(project, path, line) for path, line in _calls_of(cli, wanted))


def _calls_of(cli: ClickCli, wanted: set[tuple[str, str]]) -> list[tuple[str, int]]:
    """Where the project calls one of the ``wanted`` commands or groups: ``cli()``,
    ``cli.main(...)``, in the files that spell one's name (its import or the call does)."""
    spelling = {path for _, name in wanted for path in cli.project.python_files_spelling(name)}
    found = []
    for path in sorted(spelling):
        for line, target in _calls_in(cli, path):
            if isinstance(target, Binding) and (target.path, target.name) in wanted:
                found.append((path, line))
    return found


def _calls_in(cli: ClickCli, path: str) -> list[tuple[int, Target | None]]:
    """The calls of ``path``, as the line and what is called (``x`` for ``x.main(...)``),
    resolved: walked and resolved once per file, where ``_calls_of`` is asked once per
    command of the project (timesketch's 51 resolved 1.35 million calls)."""
    known = _calls_by_file(cli.project)
    calls = known.get(path)
    if calls is None:
        calls = known[path] = []
        tree = cli.project.ast(path)
        for node in walk(tree) if tree is not None else ():
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute) and func.attr == "main":
                    func = func.value
                calls.append((node.lineno, cli.names.resolve(path, func)))
    return calls


@per_project
def _calls_by_file(project: Project) -> dict[str, list[tuple[int, Target | None]]]:
    return {}


def _factory_made(project: Project) -> bool:
    source = find_app_source(project)
    return source is None or source.kind == "factory"


def _explanation(
    command: Command,
    line: int,
    plan: Plan | None,
    unfixable: dict[str, str],
    *,
    used: str | None = None,
) -> str:
    path, name = command.path, command.function.name
    needs = f"uses {used}" if used else "needs an application context"
    text = (
        f"{name}() ({path}:{command.function.lineno}) is a plain Click {command.kind}, and "
        f"{needs} at {path}:{line}. Flask pushes an app context for a command only when its own "
        "command line runs it (`flask <command>`, a FlaskGroup, `app.cli`); a command declared "
        "with plain Click and run as a script has none."
    )
    if plan is None:
        return f"{text} No fix is offered: {unfixable['reason']}."
    if plan.kind == "with_appcontext":
        return (
            f"{text} It hangs under a FlaskGroup, which has the app: `@with_appcontext` pushes "
            "that app's context for it."
        )
    return f"{text} The command pushes the context itself, with {plan.source}."
