"""Which versions of a library the project says it runs, read from the files that declare its
dependencies: ``requirements*.txt`` / ``.in``, ``pyproject.toml`` (``[project]`` and Poetry)
and ``setup.cfg``.

A recipe asks this where a library's major versions behave differently: Flask-SQLAlchemy 2.x
runs a second, unregistered ``SQLAlchemy()`` on the app's registered state, where 3.x raises
"not registered with this 'SQLAlchemy' instance". A version pinned exactly (``==2.5.1``, as
``pip-compile`` writes) is the one installed and decides; otherwise every declaration must
exclude a version for it to count as excluded. A project that declares nothing says nothing.

``packaging`` is imported only once a declaration is found: importing it took 10 ms, a
twentieth of a scan of a project that declares nothing, and ``configparser`` only for a
``setup.cfg``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tracefix.diagnose.project import Project
from tracefix.diagnose.project import path_name
from tracefix.diagnose.project import path_parts
from tracefix.diagnose.project import per_project

if TYPE_CHECKING:
    import configparser

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

#: A Poetry constraint: ``^2.5`` (up to the next major), ``~2.5`` (the next minor) or a bare
#: version (exactly it).
_POETRY = re.compile(r"^\s*([~^]?)\s*(\d+(?:\.\d+)*)\s*$")


def runs_only_before(project: Project, distribution: str, version: str) -> bool:
    """Whether the project declares ``distribution`` and no declaration admits ``version``
    or a later one of its series (see the module's docstring)."""
    specifiers = declared(project, distribution)
    if not specifiers:
        return False
    from packaging.version import Version

    pinned = [_pinned(specifier) for specifier in specifiers]
    exact = [found for found in pinned if found is not None]
    if exact:
        return all(found < Version(version) for found in exact)
    return not any(_admits_from(specifier, Version(version)) for specifier in specifiers)


def python_not_admitted(project: Project, version: str) -> str | None:
    """The project's declared ``requires-python`` (``[project]``, Poetry's ``python``
    dependency, ``setup.cfg``'s ``python_requires``) when it excludes Python ``version``:
    the scan names it where a file does not parse, which a newer Python's syntax explains."""
    for declaration in _python_declarations(project):
        from packaging.specifiers import InvalidSpecifier
        from packaging.specifiers import SpecifierSet

        try:
            specifier = SpecifierSet(declaration)
        except InvalidSpecifier:
            continue
        if not specifier.contains(version, prereleases=True):
            return declaration
    return None


def _python_declarations(project: Project) -> Iterator[str]:
    for path in sorted(project.files):
        name = path_name(path)
        source = project.source(path) or ""
        if name == "pyproject.toml":
            document = _toml(source)
            requires = _table(document, "project").get("requires-python")
            if isinstance(requires, str):
                yield requires
            poetry = _table(_table(_table(document, "tool"), "poetry"), "dependencies")
            for line in _poetry_requirement("python", poetry.get("python")):
                yield line.removeprefix("python")
        elif name == "setup.cfg" and "python_requires" in source:
            parser = _setup_cfg(source)
            if parser is not None and parser.has_option("options", "python_requires"):
                yield parser.get("options", "python_requires")


def declared(project: Project, distribution: str) -> list[SpecifierSet]:
    """The version specifier of each declaration of ``distribution`` in the project."""
    return _declarations(project).get(_canonical_name(distribution), [])


@per_project
def _declarations(project: Project) -> dict[str, list[SpecifierSet]]:
    """Every declared requirement's specifiers, by its normalised name: read once, as the
    detectors ask for each instance they follow."""
    lines = [line for path in sorted(project.files) for line in _declared_lines(project, path)]
    if not lines:
        return {}
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement

    found: dict[str, list[SpecifierSet]] = {}
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        found.setdefault(_canonical_name(requirement.name), []).append(requirement.specifier)
    return found


def is_requirements_file(path: str) -> bool:
    """Whether ``path`` is a pip requirements file: ``requirements*.txt`` or ``.in``, or any
    such file in a ``requirements`` folder (``requirements/common.txt``, ``requirements/dev.in``:
    flasky's and cookiecutter-django's layout)."""
    parts = path_parts(path)
    return parts[-1].endswith((".txt", ".in")) and (
        parts[-1].startswith("requirements") or "requirements" in parts[:-1]
    )


def _declared_lines(project: Project, path: str) -> Iterator[str]:
    name = path_name(path)
    source = project.source(path) or ""
    if is_requirements_file(path):
        yield from _requirement_lines(source)
    elif name == "pyproject.toml":
        yield from _pyproject_lines(source)
    elif name == "setup.cfg":
        yield from _setup_cfg_lines(source)


def _canonical_name(name: str) -> str:
    """``packaging.utils.canonicalize_name`` (PEP 503), without importing ``packaging``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_lines(source: str) -> Iterator[str]:
    """Each requirement of a requirements file, without its comment or its options
    (``pip-compile --generate-hashes`` continues a line with ``--hash=...``)."""
    for line in source.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].split(" --", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            yield line


def _pyproject_lines(source: str) -> Iterator[str]:
    document = _toml(source)
    project = _table(document, "project")
    groups = [project.get("dependencies")]
    groups += list(_table(project, "optional-dependencies").values())
    groups += list(_table(document, "dependency-groups").values())
    for group in groups:
        if isinstance(group, list):
            yield from (item for item in group if isinstance(item, str))
    poetry = _table(_table(document, "tool"), "poetry")
    tables = [_table(poetry, "dependencies"), _table(poetry, "dev-dependencies")]
    tables += [_table(group, "dependencies") for group in _table(poetry, "group").values()]
    for table in tables:
        for name, constraint in table.items():
            if name != "python":
                yield from _poetry_requirement(name, constraint)


def _toml(source: str) -> dict[str, object]:
    """The document, or an empty one when it is not TOML."""
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError:
        return {}


def _table(document: object, key: str) -> dict[str, object]:
    """``document[key]`` when both are tables, else an empty one: a hand-written file may
    hold anything under any key."""
    value = document.get(key) if isinstance(document, dict) else None
    return value if isinstance(value, dict) else {}


def _poetry_requirement(name: str, constraint: object) -> Iterator[str]:
    if isinstance(constraint, dict):
        constraint = constraint.get("version", "*")
    if not isinstance(constraint, str):
        return
    parts = []
    for piece in constraint.split(","):
        match = _POETRY.match(piece)
        if match is None:
            piece = piece.strip()
            parts.append(f"=={piece}" if piece[:1].isdigit() else piece)  # 2.*
            continue
        operator, number = match.groups()
        numbers = [int(part) for part in number.split(".")]
        if operator == "^":
            significant = next((i for i, part in enumerate(numbers) if part), len(numbers) - 1)
            upper = [*numbers[:significant], numbers[significant] + 1]
        elif operator == "~":
            upper = [numbers[0], numbers[1] + 1] if len(numbers) > 1 else [numbers[0] + 1]
        else:
            parts.append(f"=={number}")
            continue
        parts += [f">={number}", "<" + ".".join(map(str, upper))]
    specifier = ",".join(part for part in parts if part and part != "*")
    yield f"{name}{specifier}"


def _setup_cfg_lines(source: str) -> Iterator[str]:
    parser = _setup_cfg(source)
    if parser is None:
        return
    if parser.has_option("options", "install_requires"):
        yield from _requirement_lines(parser.get("options", "install_requires"))
    if parser.has_section("options.extras_require"):
        for _, value in parser.items("options.extras_require"):
            yield from _requirement_lines(value)


def _setup_cfg(source: str) -> configparser.ConfigParser | None:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(source)
    except configparser.Error:
        return None
    return parser


def _pinned(specifier: SpecifierSet) -> Version | None:
    """The one version ``==X`` (or ``===X``) names, when ``specifier`` has such a clause."""
    from packaging.version import InvalidVersion
    from packaging.version import Version

    for clause in specifier:
        if clause.operator in ("==", "===") and "*" not in clause.version:
            try:
                return Version(clause.version)
            except InvalidVersion:
                return None
    return None


def _admits_from(specifier: SpecifierSet, version: Version) -> bool:
    """Whether ``specifier`` admits ``version`` or a later release of its major series, or
    any release of a later major one: probed at a few points, which upper bounds (``<3``,
    ``<3.0``, ``~=2.5``, ``==2.*``) all fall before."""
    from packaging.version import Version

    major = version.major
    probes = [
        version,
        Version(f"{major}.{version.minor}.99"),
        Version(f"{major}.99"),
        Version(f"{major + 1}"),
        Version(f"{major + 10}"),
    ]
    return any(specifier.contains(probe, prereleases=True) for probe in probes)
