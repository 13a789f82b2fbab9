"""``tracefix scan`` against semgrep, on the same trees in one run; and its precision and recall.

    python benchmarks/scan_bench.py [--runs N] [--lines 50000] [--write BENCHMARKS.md]

Speed: both tools as a user runs them (a fresh process each time, wall time, median of
``--runs``), alternating so machine noise falls on both, on two trees: a generated Flask project
of ``--lines`` lines (``scan_tree.py``: deterministic, with a few planted bugs) and every
recipe's fixture projects side by side. tracefix runs with the four codes the semgrep rules
(``scan_semgrep.yml``) also cover, and with every recipe. Semgrep (installed from PyPI in its own
virtualenv, ``.venv-semgrep``; ``--semgrep PATH`` to point elsewhere) runs offline: local rules,
``--metrics=off``, no version check.

Precision and recall: the labelled corpus is every recipe's fixtures. A fix case is a positive at
the place ``diagnose`` puts its recorded failure (code, file, line); a noop case and the fixed
side of every fix case (the project with ``expected/`` applied) are negatives. A case labels the
files its recorded failure ran through (its event's project frames, and the file of the line
``diagnose`` names: a pool worker's frames are not in the event), and the fixed side the files
``expected/`` changes: a finding in a labelled file is a true positive where it matches the
positive and a false positive elsewhere; findings in other files of the case are not scored.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _report import replace_section
from scan_tree import count_lines
from scan_tree import generate

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
RULES = HERE / "scan_semgrep.yml"
SEMGREP_CODES = ("CTX101", "CTX102", "CTX103", "CTX104")
SEMGREP_ENVIRONMENT = {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--semgrep", type=Path, default=REPOSITORY / ".venv-semgrep/bin/semgrep")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a run may take")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as temporary:
        base = Path(temporary)
        tree = base / "flask-tree"
        seeded = generate(tree, lines=args.lines)
        fixtures = base / "fixtures"
        labels = copy_fixtures(fixtures)
        semgrep = args.semgrep if args.semgrep.is_file() else None
        compile_tracefix()
        timings = {
            "tree": time_tools(tree, args.runs, semgrep, args.timeout),
            "fixtures": time_tools(fixtures, args.runs, semgrep, args.timeout),
        }
        tree_found = tracefix_findings(tree, SEMGREP_CODES)
        semgrep_tree = semgrep_findings(semgrep, tree) if semgrep else None
        libcst_loaded = loads_libcst(tree)
        ours = score(labels, corpus_findings())
        theirs = (
            score(labels, remap(semgrep_findings(semgrep, fixtures), labels)) if semgrep else None
        )
        text = render(
            args,
            count_lines(tree),
            len(list(tree.rglob("*.py"))),
            seeded,
            tree_found,
            semgrep_tree,
            timings,
            ours,
            theirs,
            semgrep_version(semgrep),
            libcst_loaded,
            time.perf_counter() - started,
        )
    print(text)
    if args.write:
        replace_section(args.write, "## Scan", text)
    return 0


# --- speed --------------------------------------------------------------------------------


def compile_tracefix() -> None:
    """tracefix's modules compiled to bytecode, as installing its wheel does (pip compiles
    every module it installs, as it did semgrep's). This repository's editable install leaves
    that to the first import, which ``PYTHONDONTWRITEBYTECODE`` (set on some machines) turns
    into every import of every run: 80 ms of a 600 ms scan, measured here."""
    import tracefix

    compileall.compile_dir(Path(tracefix.__file__).parent, quiet=1)


#: The floor under any scan that reads the tree with Python's ``ast``: start Python, read
#: and parse every file, nothing else (the cycle collector off, as the scan runs).
PARSE_ONLY = """
import ast, gc, os
gc.disable()
trees = []
for folder, _, names in os.walk("."):
    for name in names:
        if name.endswith(".py"):
            with open(os.path.join(folder, name), encoding="utf-8") as file:
                trees.append(ast.parse(file.read()))
os._exit(0)
"""


def tracefix_command(codes: tuple[str, ...] | None) -> list[str]:
    select = ["--select", ",".join(codes)] if codes else []
    return [sys.executable, "-m", "tracefix", "scan", "--format", "json", *select]


def semgrep_command(semgrep: Path) -> list[str]:
    return [
        str(semgrep),
        "scan",
        "--config",
        str(RULES),
        "--json",
        "--metrics=off",
        "--disable-version-check",
        "--oss-only",
        "--quiet",
        ".",
    ]


def time_tools(
    root: Path, runs: int, semgrep: Path | None, timeout: float
) -> dict[str, list[tuple[float, float]]]:
    """Each tool's (wall, CPU) seconds per run: CPU is user plus system time of the process and
    everything it started, which a busy machine inflates far less than wall time. A run stopped
    at ``timeout`` counts as infinitely long."""
    commands = {
        "tracefix-4": tracefix_command(SEMGREP_CODES),
        "tracefix-all": tracefix_command(None),
        "parse-only": [sys.executable, "-c", PARSE_ONLY],
    }
    if semgrep is not None:
        commands["semgrep"] = semgrep_command(semgrep)
    environment = {**os.environ, **SEMGREP_ENVIRONMENT}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for command in commands.values():  # untimed: the tree and each tool's files into the cache
        try:
            subprocess.run(command, cwd=root, capture_output=True, env=environment, timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    for run in range(runs):
        order = list(commands)
        order = order[run % len(order) :] + order[: run % len(order)]
        for name in order:
            start = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            try:
                subprocess.run(
                    commands[name],
                    cwd=root,
                    capture_output=True,
                    env=environment,
                    check=False,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                times[name].append((float("inf"), float("inf")))
                continue
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            times[name].append((time.perf_counter() - start, cpu))
    return times


def loads_libcst(root: Path) -> bool:
    """Whether ``tracefix scan`` imports LibCST (only ``--fix`` should): the recipes' modules
    are all imported whatever is selected, so selecting four changes nothing here."""
    program = (
        "import sys\nfrom tracefix.cli import main\n"
        "try:\n    main(['scan', '--format', 'json', '--select', 'CTX101,CTX102,CTX103,CTX104'])\n"
        "except SystemExit:\n    pass\n"
        "print('libcst' in sys.modules, file=sys.stderr)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", program], cwd=root, capture_output=True, text=True, check=False
    )
    return completed.stderr.strip().splitlines()[-1] == "True"


# --- findings -----------------------------------------------------------------------------

Finding = tuple[str, str, int]


def tracefix_findings(root: Path, codes: tuple[str, ...] | None) -> list[Finding]:
    completed = subprocess.run(
        tracefix_command(codes), cwd=root, capture_output=True, text=True, check=False
    )
    document = json.loads(completed.stdout)
    return [(f["code"], f["path"], f["line"]) for f in document["findings"]]


def semgrep_findings(semgrep: Path | None, root: Path) -> list[Finding]:
    if semgrep is None:
        return []
    completed = subprocess.run(
        semgrep_command(semgrep),
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **SEMGREP_ENVIRONMENT},
        check=False,
    )
    results = json.loads(completed.stdout)["results"]
    return [(r["check_id"].rsplit(".", 1)[-1], r["path"], r["start"]["line"]) for r in results]


def semgrep_version(semgrep: Path | None) -> str | None:
    if semgrep is None:
        return None
    completed = subprocess.run(
        [str(semgrep), "--version"], capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() or None


# --- the labelled corpus ------------------------------------------------------------------


def case_folders() -> list[tuple[str, Path]]:
    from tracefix.recipes import RECIPES
    from tracefix.testing import case_dirs

    return [
        (recipe.code, folder)
        for recipe in RECIPES
        for folder in case_dirs(sys.modules[recipe.__module__].__file__ or "")
    ]


def labelled_units() -> list[dict[str, object]]:
    """Each unit: a tree (a case's project, or its fixed side), the files it labels, and its
    positive, if any."""
    from tracefix.diagnose import diagnose
    from tracefix.testing import load_case

    units: list[dict[str, object]] = []
    for code, folder in case_folders():
        case = load_case(folder)
        diagnosis = diagnose(case.event, case.project)
        ran_through = {f.filename for f in case.event.frames if f.in_app} & set(case.project.files)
        positive = None
        recorded = None
        if diagnosis is not None:
            recorded = (diagnosis.code, diagnosis.location.path, diagnosis.location.line)
            # The failing line is in a file the failure ran through, even where the event's
            # frames do not show it (a child process's, a pool's worker's).
            ran_through |= {diagnosis.location.path} & set(case.project.files)
            if not case.is_noop and diagnosis.code == code:
                positive = recorded
        units.append(
            {
                "name": f"{code}/{folder.name}",
                "code": code,
                "project": case.project,
                "labelled": ran_through,
                "positive": positive,
                "recorded": recorded,
            }
        )
        if case.expected is not None:
            units.append(
                {
                    "name": f"{code}/{folder.name}/expected",
                    "code": code,
                    "project": case.project.with_changes(case.expected),
                    "labelled": {p for p in case.expected if p.endswith(".py")},
                    "positive": None,
                    "recorded": None,
                }
            )
    return units


def copy_fixtures(root: Path) -> list[dict[str, object]]:
    """Every unit's tree written under ``root/<unit>/`` (for semgrep), and the units."""
    units = labelled_units()
    for index, unit in enumerate(units):
        unit["folder"] = f"unit{index:03d}"
        project = unit["project"]
        for path, text in project.files.items():  # type: ignore[attr-defined]
            target = root / str(unit["folder"]) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    (root / ".semgrepignore").write_text("", encoding="utf-8")
    (root / "pyproject.toml").write_text("[project]\nname = 'fixtures'\n", encoding="utf-8")
    return units


def corpus_findings() -> dict[str, list[Finding]]:
    """tracefix's findings on each unit, scanned as its own project, in this process."""
    from tracefix.recipes import all_recipes
    from tracefix.scan.engine import scan

    recipes = all_recipes()
    found = {}
    for unit in labelled_units():
        project = unit["project"]
        paths = sorted(unit["labelled"])  # type: ignore[call-overload]
        result = scan(project, paths, recipes)  # type: ignore[arg-type]
        found[str(unit["name"])] = [(f.code, f.path, f.line) for f in result.findings]
    return found


def remap(findings: list[Finding], units: list[dict[str, object]]) -> dict[str, list[Finding]]:
    by_folder = {str(unit["folder"]): str(unit["name"]) for unit in units}
    found: dict[str, list[Finding]] = {str(unit["name"]): [] for unit in units}
    for code, path, line in findings:
        folder, _, inside = path.partition("/")
        if folder in by_folder:
            found[by_folder[folder]].append((code, inside, line))
    return found


def score(units: list[dict[str, object]], found: dict[str, list[Finding]]) -> dict[str, object]:
    """Counts by code, under the corpus's labels and under the recorded failures' labels."""
    counts: dict[str, Counter[str]] = {}
    for unit in units:
        findings = set(found.get(str(unit["name"]), []))
        labelled = unit["labelled"]
        scored = {f for f in findings if f[1] in labelled}  # type: ignore[operator]
        for label, key in (("spec", "positive"), ("recorded", "recorded")):
            positive = unit[key]
            for finding in scored:
                tally = counts.setdefault(f"{label}:{finding[0]}", Counter())
                tally["tp" if finding == positive else "fp"] += 1
            if positive is not None:
                tally = counts.setdefault(f"{label}:{positive[0]}", Counter())  # type: ignore[index]
                tally["positives"] += 1
                if positive not in scored:
                    tally["fn"] += 1
    return counts


def ratios(counts: dict[str, Counter[str]], label: str, codes: set[str] | None) -> tuple:
    total: Counter[str] = Counter()
    for key, tally in counts.items():
        kind, code = key.split(":")
        if kind == label and (codes is None or code in codes):
            total.update(tally)
    tp, fp, fn = total["tp"], total["fp"], total["fn"]
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    return precision, recall, tp, fp, fn


# --- report -------------------------------------------------------------------------------


def render(
    args,
    lines,
    files,
    seeded,
    tree_found,
    semgrep_tree,
    timings,
    ours,
    theirs,
    version,
    libcst_loaded,
    seconds,
) -> str:
    median = statistics.median
    tree, fixtures = timings["tree"], timings["fixtures"]
    has_semgrep = "semgrep" in tree

    def wall(values: list[tuple[float, float]]) -> float:
        return median(value[0] for value in values)

    def cpu(values: list[tuple[float, float]]) -> float:
        return median(value[1] for value in values)

    def cell(values: list[tuple[float, float]]) -> str:
        if wall(values) == float("inf"):
            return f"over {args.timeout:.0f} s"
        return f"{wall(values):.2f} / {cpu(values):.2f}"

    def ratio(times: dict[str, list[tuple[float, float]]], name: str) -> str:
        if not has_semgrep or float("inf") in (wall(times[name]), wall(times["semgrep"])):
            return "–"
        return (
            f"**{wall(times['semgrep']) / wall(times[name]):.1f}x** / "
            f"**{cpu(times['semgrep']) / cpu(times[name]):.1f}x**"
        )

    out = [
        "## Scan",
        "",
        f"Command: `python benchmarks/scan_bench.py --runs {args.runs} --lines {args.lines}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {version or 'semgrep: not installed'}; {args.runs} runs "
        f"per tool after one untimed run of each, alternating, a fresh process each, tracefix's "
        "modules compiled to bytecode first (as installing its wheel does); medians of wall / "
        "CPU seconds "
        "(CPU: user + system of the tool's processes together); "
        f"{seconds:.0f} s in all.",
        "",
        f"Trees: a generated Flask project, {lines:,} lines in {files:,} files "
        "(`benchmarks/scan_tree.py`, deterministic), and every recipe's fixture projects side "
        "by side. Semgrep runs the rules of `benchmarks/scan_semgrep.yml`, written for the "
        "patterns of CTX101-CTX104, with its default jobs.",
        "",
        "| tree | tracefix scan (CTX101-104) | tracefix scan (every recipe) "
        "| semgrep (same 4 rules) | semgrep / tracefix (CTX101-104) | semgrep / tracefix (all) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, times in (("generated Flask project", tree), ("all fixtures", fixtures)):
        out.append(
            f"| {name} | {cell(times['tracefix-4'])} | {cell(times['tracefix-all'])} | "
            f"{cell(times['semgrep']) if has_semgrep else 'not run'} | "
            f"{ratio(times, 'tracefix-4')} | {ratio(times, 'tracefix-all')} |"
        )
    seeded_set = {(s.code, s.path, s.line) for s in seeded}
    hits = len(seeded_set & set(tree_found))
    out += [
        "",
        f"Targets: at least 10x faster than semgrep, and the {lines:,}-line project under 1 s: "
        f"CTX101-104 **{wall(tree['tracefix-4']):.2f} s** wall, "
        f"**{cpu(tree['tracefix-4']):.2f} s** CPU; every recipe "
        + (
            f"**{wall(tree['tracefix-all']):.2f} s** wall, "
            f"**{cpu(tree['tracefix-all']):.2f} s** CPU. "
            if wall(tree["tracefix-all"]) != float("inf")
            else f"over {args.timeout:.0f} s. "
        )
        + f"LibCST imported by a whole `tracefix scan`: {'yes' if libcst_loaded else 'no'}.",
        "",
        "The floor: Python alone, started afresh to read and `ast.parse` every file of the "
        f"generated project and nothing else, takes {cell(tree['parse-only'])} s"
        + (
            f", {ratio(tree, 'parse-only')} faster than semgrep: the most any scan that "
            "parses the tree with Python's `ast` could be."
            if has_semgrep
            else "."
        ),
        "",
        f"On the generated project, tracefix (CTX101-104) reports {len(tree_found)} findings, "
        f"{hits} of the {len(seeded_set)} planted bugs at their line"
        + (
            f"; semgrep reports {len(semgrep_tree)} "
            f"({len(seeded_set & set(semgrep_tree))} of the planted bugs at their line)."
            if semgrep_tree is not None
            else "."
        ),
        "",
        "Precision and recall on the labelled corpus (every recipe's fixtures; see the script's "
        "docstring for the labels):",
        "",
        "| tool, codes | precision | recall | TP | FP | FN |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    mine = set(SEMGREP_CODES)
    rows = [
        ("tracefix, CTX101-104", ours, "spec", mine),
        ("tracefix, every recipe", ours, "spec", None),
    ]
    if theirs is not None:
        rows.append(("semgrep rules, CTX101-104", theirs, "spec", mine))
    rows += [
        ("tracefix, CTX101-104, recorded failures as positives", ours, "recorded", mine),
    ]
    for title, counts, label, codes in rows:
        precision, recall, tp, fp, fn = ratios(counts, label, codes)
        out.append(f"| {title} | {precision:.2f} | {recall:.2f} | {tp} | {fp} | {fn} |")
    per_code = sorted({key.split(":")[1] for key in ours if key.startswith("spec:")})
    out += [
        "",
        "By code (tracefix, corpus labels): "
        + ", ".join(
            "{} {}/{} found, {} FP".format(
                code,
                ours[f"spec:{code}"]["tp"],
                ours[f"spec:{code}"]["positives"],
                ours[f"spec:{code}"]["fp"],
            )
            for code in per_code
        )
        + ".",
        "",
        "How to read it: times include starting Python (or semgrep's OCaml core) and reading the "
        "tree, as in a pre-commit hook. The corpus labels a noop case as a negative even when its "
        "recorded failure is real and only the fix declines (the `skip_*` cases: a thread target "
        "called directly too, a thread started outside any context, a session-scoped fixture) "
        "or is another recipe's cause; the scan reports those where the code does fail, so they "
        "count as false positives under the corpus's labels, and as true positives under the "
        "recorded failures' (whatever recipe `diagnose` names, at its line). CTX111's scan "
        "reports the unregistered `SQLAlchemy()` instance, the line its fix changes, where "
        "`diagnose` names the line that failed (`db.create_all()`, a query): its findings are "
        "in files the corpus does not label, so its cases count as missed.",
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
