"""docs/recipes/ is generated from the recipes: a page that differs from its recipe is stale."""

from __future__ import annotations

from tracefix.recipes import RECIPES
from tracefix.scan.docs import DOCS_DIR
from tracefix.scan.docs import generate_all
from tracefix.scan.docs import main


def test_every_recipe_page_is_up_to_date():
    pages = generate_all()
    assert {f"{recipe.code}.md" for recipe in RECIPES} | {"README.md"} == set(pages)
    stale = [
        name
        for name, text in pages.items()
        if not (DOCS_DIR / name).is_file() or (DOCS_DIR / name).read_text(encoding="utf-8") != text
    ]
    extra = [path.name for path in DOCS_DIR.glob("*.md") if path.name not in pages]
    assert stale + extra == [], "run: python -m tracefix.scan.docs"


def test_a_page_carries_the_docstring_and_a_fixture_diff(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    page = (tmp_path / "CTX101.md").read_text(encoding="utf-8")
    for section in ("## What it does", "## Fix safety", "## Cases"):
        assert section in page
    assert "```python\n# scripts/seed_db.py" in page
    assert "+++ b/scripts/seed_db.py" in page
    assert main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "CTX101.md").write_text("old\n", encoding="utf-8")
    assert main(["--out", str(tmp_path), "--check"]) == 1
