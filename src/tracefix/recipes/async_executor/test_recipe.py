"""CTX117 executor-call-in-async-view-without-context: codemod, diagnosis, detect, the cases."""

from __future__ import annotations

import ast

import libcst as cst
import pytest

from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import FixSuccess
from tracefix.recipes._case_checks import assert_detect_finds_the_expected_fix
from tracefix.recipes._case_checks import assert_no_finding_leads_to_a_patch
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import noop_cases
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.async_executor import ExecutorCallInAsyncViewWithoutContext
from tracefix.recipes.async_executor import executor_awaits_at
from tracefix.recipes.async_executor.fix import copy_context_into_executor_call
from tracefix.testing import load_case

RECIPE = ExecutorCallInAsyncViewWithoutContext()
APP_MESSAGE = "Working outside of application context."
THREAD_RUN = Frame("/stdlib/concurrent/futures/thread.py", "run", 58)
WERKZEUG = Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519)


def fixed(source: str, line: int) -> str:
    [awaited] = executor_awaits_at(Project({"app.py": source}), "app.py", line)
    module = copy_context_into_executor_call(
        cst.parse_module(source), awaited.call, awaited.coroutine
    )
    ast.parse(module.code)
    return module.code


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            code("""
                import asyncio


                async def view():
                    loop = asyncio.get_running_loop()
                    return await loop.run_in_executor(None, work, 1, 2)
            """),
            code("""
                import asyncio


                async def view():
                    return await asyncio.to_thread(work, 1, 2)
            """),
            id="default executor: to_thread, the unused loop removed",
        ),
        pytest.param(
            code("""
                import asyncio as aio


                async def view():
                    loop = aio.get_event_loop()
                    first = await loop.run_in_executor(None, work)
                    return first, loop.time()
            """),
            code("""
                import asyncio as aio


                async def view():
                    loop = aio.get_event_loop()
                    first = await aio.to_thread(work)
                    return first, loop.time()
            """),
            id="asyncio under an alias, a loop still used is kept",
        ),
        pytest.param(
            code("""
                from asyncio import get_running_loop


                async def view():
                    return await get_running_loop().run_in_executor(None, work)
            """),
            code("""
                import asyncio
                from asyncio import get_running_loop


                async def view():
                    return await asyncio.to_thread(work)
            """),
            id="asyncio imported for to_thread",
        ),
        pytest.param(
            code("""
                import asyncio


                async def view(loop, pool):
                    return await loop.run_in_executor(pool, work, 1)
            """),
            code("""
                import asyncio
                import contextvars


                async def view(loop, pool):
                    return await loop.run_in_executor(pool, contextvars.copy_context().run, work, 1)
            """),
            id="own executor: the function runs in a copy of the context",
        ),
        pytest.param(
            code("""
                import click

                from shop.pools import pool


                async def view(loop):
                    return await loop.run_in_executor(pool, work)
            """),
            code("""
                import contextvars

                import click

                from shop.pools import pool


                async def view(loop):
                    return await loop.run_in_executor(pool, contextvars.copy_context().run, work)
            """),
            id="the standard library's import in a section of its own, above click's",
        ),
    ],
)
def test_copy_context_into_executor_call(before, after):
    line = next(i for i, text in enumerate(before.splitlines(), 1) if "run_in_executor" in text)
    assert fixed(before, line) == after


APP = code("""
    import asyncio

    from flask import Flask
    from flask import current_app

    app = Flask(__name__)


    def work(n):
        return current_app.name * n


    @app.get("/")
    async def index():
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, work, 2)
""")


def executor_event(
    awaiting_line: int = 16, *, function: str = "work", message: str = APP_MESSAGE
) -> Event:
    frames = (
        Frame("/site-packages/asgiref/sync.py", "main_wrap", 416),
        Frame("app.py", "index", awaiting_line, in_app=True),
        THREAD_RUN,
        Frame("app.py", function, 10, in_app=True),
        WERKZEUG,
    )
    return Event((ExceptionInfo("RuntimeError", message, frames=frames),), thread_name="MainThread")


@pytest.mark.parametrize("message", [APP_MESSAGE, "Working outside of request context."])
def test_diagnosed_and_fixed_for_app_and_request_contexts(message):
    project = Project({"app.py": APP})
    diagnosis = RECIPE.diagnose(executor_event(message=message), project)
    assert diagnosis is not None
    assert (diagnosis.location.line, diagnosis.location.column) == (16, 18)
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert "    return await asyncio.to_thread(work, 2)\n" in change.after
    assert "get_running_loop" not in change.after
    again = apply_fix(RECIPE, diagnosis, project.with_changes({"app.py": change.after}))
    assert isinstance(again, FixSkip)


@pytest.mark.parametrize(
    ("source", "event"),
    [
        pytest.param(APP, executor_event(function="other"), id="the thread ran another function"),
        pytest.param(
            APP, executor_event(awaiting_line=15), id="the awaiting line has no executor call"
        ),
        pytest.param(
            APP.replace("None, work, 2", "None, contextvars.copy_context().run, work, 2"),
            executor_event(),
            id="already runs in a copy of the context",
        ),
        pytest.param(
            APP.replace("async def index", "def index").replace("return await loop", "return loop"),
            executor_event(),
            id="not awaited in an async def",
        ),
    ],
)
def test_not_diagnosed(source, event):
    assert RECIPE.diagnose(event, Project({"app.py": source})) is None


def test_gathered_calls_are_diagnosed_without_a_patch():
    source = APP.replace(
        "return await loop.run_in_executor(None, work, 2)",
        "return await asyncio.gather(\n"
        "        loop.run_in_executor(None, work, 1), loop.run_in_executor(None, work, 2)\n"
        "    )",
    )
    project = Project({"app.py": source})
    diagnosis = RECIPE.diagnose(executor_event(), project)
    assert diagnosis is not None and "no fix is offered" in diagnosis.explanation
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip) and "side by side" in result.reason


def test_detect_resolves_the_handed_function_through_imports_and_partial():
    work = "from flask import g\n\n\ndef work(n):\n    g.n = n\n\n\ndef quiet(n):\n    return n\n"
    views = code("""
        import asyncio
        import functools

        from shop.work import quiet
        from shop.work import work


        async def index(loop):
            await loop.run_in_executor(None, functools.partial(work, 1))
            await loop.run_in_executor(None, quiet, 1)
    """)
    project = Project({"shop/__init__.py": "", "shop/work.py": work, "shop/views.py": views})
    found = list(RECIPE.detect("shop/views.py", project))
    assert [(d.location.line, d.location.column, d.facts["function"]) for d in found] == [
        (9, 11, "work")
    ]


# --- detect and the cases ------------------------------------------------------------------

FIX_CASES = fix_cases(__file__)
NOOP_CASES = noop_cases(__file__)


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_detect_finds_the_case_and_its_fix_is_the_expected_one(case_dir):
    assert_detect_finds_the_expected_fix(RECIPE, load_case(case_dir))


@pytest.mark.parametrize("case_dir", NOOP_CASES, ids=[d.name for d in NOOP_CASES])
def test_detect_on_noop_cases_never_leads_to_a_patch(case_dir):
    assert_no_finding_leads_to_a_patch(RECIPE, load_case(case_dir))


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert before.returncode != 0, before.output
    assert "Working outside of application context" in before.output, before.output
    assert after.returncode == 0 and "Traceback" not in after.output, after.output
