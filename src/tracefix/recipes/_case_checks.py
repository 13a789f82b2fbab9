"""The checks every recipe's tests make, written once.

Each recipe's ``test_recipe.py`` holds its fix to the same promises: it applies once (fixing the
fixed files skips), ``detect`` finds a fix case and its fix is the case's ``expected/`` tree, a
noop case never leads to a patch, and the case's command fails on ``project/`` and passes with
``expected/`` laid over it. What differs between recipes (the failure a command shows, the facts
``detect`` must share with ``diagnose``) stays in the recipe's tests.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import FixSuccess
from tracefix.recipes._base import Recipe
from tracefix.recipes._fixing import apply_fix
from tracefix.testing import Case
from tracefix.testing import case_dirs


def code(text: str) -> str:
    """``text`` dedented, without its first newline: a project's file written inline in a test."""
    return textwrap.dedent(text).lstrip("\n")


#: ``shop/__init__.py`` of the small projects CTX103, CTX106 and CTX108 are tested on: a factory
#: that sets up Flask-SQLAlchemy's ``db``.
SHOP_FACTORY = code("""
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    db = SQLAlchemy()


    def create_app():
        app = Flask(__name__)
        db.init_app(app)
        return app
""")
#: A task module that needs the app context for ``current_app.logger`` and nothing else.
LOGGING_TASK = code("""
    from flask import current_app


    def work(n):
        current_app.logger.info("%s", n)
""")
#: ``shop/views.py``: a view that starts the task in a thread, as CTX103 and CTX108 see it.
THREAD_VIEWS = code("""
    import threading

    from flask import Blueprint

    from shop.tasks import work

    bp = Blueprint("shop", __name__)


    @bp.get("/")
    def index():
        threading.Thread(target=work, args=(1,)).start()
        return "ok"
""")


def fixed_once(recipe: Recipe, event: Event, project: Project) -> dict[str, str]:
    """The files (path -> text) ``recipe``'s fix for ``event`` writes in ``project``.

    Fixing the fixed files again must skip: a fix that would apply twice would apply on every
    run of ``tracefix``.
    """
    diagnosis = recipe.diagnose(event, project)
    assert diagnosis is not None
    result = apply_fix(recipe, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    changed = {change.path: change.after for change in result.changes}
    again = apply_fix(recipe, diagnosis, project.with_changes(changed))
    assert isinstance(again, FixSkip), again
    return changed


def fix_cases(recipe_file: str) -> list[Path]:
    """The recipe's cases with an ``expected/`` tree, the one its fix must write."""
    return [case for case in case_dirs(recipe_file) if (case / "expected").is_dir()]


def noop_cases(recipe_file: str) -> list[Path]:
    """The recipe's cases without an ``expected/`` tree, which it must leave alone."""
    return [case for case in case_dirs(recipe_file) if not (case / "expected").is_dir()]


@dataclass(frozen=True)
class CaseRun:
    returncode: int
    #: stdout then stderr, where a failure may show in either.
    output: str
    stderr: str


def copy_case(case_dir: Path, where: Path, *, fixed: bool) -> Path:
    """A copy of the case's project made at ``where``, with ``expected/`` laid over it if
    ``fixed``; a case never writes into its own folder."""
    shutil.copytree(
        case_dir / "project", where, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    if fixed:
        shutil.copytree(case_dir / "expected", where, dirs_exist_ok=True)
    return where


def run_case(case_dir: Path, where: Path, *, fixed: bool) -> CaseRun:
    """Run the case's command in a copy of its project (see ``copy_case``).

    The command runs with the interpreter running the tests, and its console scripts, whatever
    else is on PATH.
    """
    copy_case(case_dir, where, fixed=fixed)
    argv = shlex.split((case_dir / "command.txt").read_text(encoding="utf-8"))
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    else:
        argv[0] = str(Path(sys.executable).parent / argv[0])
    done = subprocess.run(argv, cwd=where, capture_output=True, text=True, timeout=120)
    return CaseRun(done.returncode, done.stdout + done.stderr, done.stderr)


def run_before_and_after(case_dir: Path, tmp_path: Path) -> tuple[CaseRun, CaseRun]:
    """The case's command on its project as it is, then with the expected fix."""
    before = run_case(case_dir, tmp_path / "before", fixed=False)
    after = run_case(case_dir, tmp_path / "after", fixed=True)
    return before, after


def detected(recipe: Recipe, case: Case) -> list[Diagnosis]:
    """What ``detect`` finds in every Python file of the case's project, as ``scan`` runs it."""
    project = case.project
    return [
        diagnosis for path in project.python_files() for diagnosis in recipe.detect(path, project)
    ]


def assert_detect_finds_the_expected_fix(recipe: Recipe, case: Case) -> Diagnosis:
    """``detect`` finds the fix case once, and fixing that finding writes ``expected/``.

    Returns the finding, for the checks a recipe adds on where it points.
    """
    found = detected(recipe, case)
    assert len(found) == 1, found
    [diagnosis] = found
    result = apply_fix(recipe, diagnosis, case.project)
    assert isinstance(result, FixSuccess), result
    written = {change.path: change.after for change in result.changes}
    assert written == case.expected, written
    return diagnosis


def assert_no_finding_leads_to_a_patch(recipe: Recipe, case: Case) -> None:
    """On a noop case ``detect`` may speak, but the fix of what it finds must skip."""
    for diagnosis in detected(recipe, case):
        result = apply_fix(recipe, diagnosis, case.project)
        assert isinstance(result, FixSkip), result


def assert_detect_agrees_with_diagnose(
    recipe: Recipe, case: Case, fact: str
) -> tuple[Diagnosis, list[Diagnosis]]:
    """``detect`` in the file ``diagnose`` blames finds that one place (the ``fact``), no other.

    Returns the diagnosis and the findings, for the checks a recipe adds on them.
    """
    diagnosis = recipe.diagnose(case.event, case.project)
    assert diagnosis is not None, case.name
    place = diagnosis.facts[fact]
    findings = list(recipe.detect(place["path"], case.project))
    assert [finding.facts[fact] for finding in findings] == [place], findings
    return diagnosis, findings


#: A program that makes LibCST unimportable, imports the recipes named in its arguments, runs
#: their ``detect`` over every case and prints how many findings they made.
DETECT_WITHOUT_LIBCST = textwrap.dedent(
    """
    import importlib
    import importlib.util
    import sys
    import types
    from pathlib import Path

    sys.modules["libcst"] = None  # any import of LibCST now raises ImportError
    spec = importlib.util.find_spec("tracefix.recipes")
    package = types.ModuleType("tracefix.recipes")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["tracefix.recipes"] = package

    from tracefix.testing import load_case

    found = 0
    for name in sys.argv[1:]:
        module = importlib.import_module(f"tracefix.recipes.{name}")
        [recipe] = [
            value() for value in vars(module).values()
            if isinstance(value, type) and value.__module__ == module.__name__
            and hasattr(value, "code")
        ]
        for case_dir in sorted((Path(module.__file__).parent / "cases").iterdir()):
            case = load_case(case_dir)
            for path in case.project.python_files():
                found += len(list(recipe.detect(path, case.project)))
    print(found)
    """
)


def count_findings_without_libcst(recipes: list[str]) -> int:
    """How many findings the recipes' ``detect`` makes over their cases where LibCST cannot load.

    ``tracefix scan`` stays on ``ast``: LibCST loads only to fix, so ``detect`` must not need it.
    """
    done = subprocess.run(
        [sys.executable, "-c", DETECT_WITHOUT_LIBCST, *recipes],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)
