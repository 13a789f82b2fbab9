"""The indexes the scan keeps answer as the searches they replace: ``Project.module_path``
below the extra package roots (folders above a package the code imports by its own name)
finds what a look in each root in turn, in order, finds, among the files only one root has."""

from __future__ import annotations

from tracefix.diagnose.project import IMPORT_ROOTS
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import _package_roots

FILES = {
    "a/shop/__init__.py": "",
    "a/shop/views.py": "",
    "a/shop/models/__init__.py": "",
    "b/shop/__init__.py": "",
    "b/shop/models.py": "",
    "b/shop/tasks/__init__.py": "",
    "b/shop/forms.py": "",
    "run.py": "import shop.views\n",
}


def root_by_root(project: Project, module: str) -> str | None:
    """A look in each root in turn, in order; below the extra roots, for a file only one of
    them has (which of two an import means is unknown)."""
    relative = module.replace(".", "/")
    for root in IMPORT_ROOTS:
        for candidate in (f"{root}{relative}.py", f"{root}{relative}/__init__.py"):
            if candidate in project.files:
                return candidate
    extra = _package_roots(project).roots
    for root in extra:
        for below in (f"{relative}.py", f"{relative}/__init__.py"):
            having = [other for other in extra if f"{other}{below}" in project.files]
            if having == [root]:
                return f"{root}{below}"
    return None


def test_module_path_finds_what_a_look_in_each_root_finds():
    project = Project(FILES)
    assert _package_roots(project).roots == ("a/", "b/")
    modules = ["shop", "shop.views", "shop.models", "shop.tasks", "shop.forms", "shop.nothing"]
    assert [project.module_path(m) for m in modules] == [root_by_root(project, m) for m in modules]
    assert project.module_path("shop") is None  # a/shop and b/shop both
    assert project.module_path("shop.models") == "a/shop/models/__init__.py"
    assert project.module_path("shop.forms") == "b/shop/forms.py"
