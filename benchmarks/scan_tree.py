"""A deterministic Flask project of a given size, for timing ``tracefix scan``.

Laid out like a real factory-made app (cookiecutter-flask, the Flask tutorial): ``shop/`` with
an extensions module and one package per area (models, services, views, forms, helpers, a
background task), a ``tests/`` tree with a ``conftest.py`` whose ``app`` fixture pushes a
context, and a ``scripts/`` folder. Nearly all of it is correct; a few places per run have one
of the bugs CTX101-CTX104 find (``SEEDED``), so both tools have something to report.
"""

from __future__ import annotations

import random
import textwrap
from dataclasses import dataclass
from pathlib import Path

WORDS = (
    "order invoice customer product stock shipment refund coupon review basket payment "
    "supplier warehouse ticket report account address wishlist category tax"
).split()


@dataclass(frozen=True)
class Seeded:
    code: str
    path: str
    line: int


def generate(root: Path, *, lines: int = 50_000, seed: int = 2026) -> list[Seeded]:
    """Write the project into ``root`` (at least ``lines`` lines); the bugs planted in it."""
    rng = random.Random(seed)
    files: dict[str, str] = {
        "pyproject.toml": '[project]\nname = "shop"\nversion = "1.0"\n',
        "shop/__init__.py": _FACTORY,
        "shop/extensions.py": _EXTENSIONS,
        "shop/settings.py": _SETTINGS,
        "wsgi.py": "from shop import create_app\n\napp = create_app()\n",
        "tests/__init__.py": "",
        "tests/conftest.py": _CONFTEST,
        "scripts/__init__.py": "",
        ".semgrepignore": "",
    }
    areas: list[str] = []
    number = 0
    while sum(text.count("\n") for text in files.values()) < lines:
        area = f"{WORDS[number % len(WORDS)]}s" + (
            f"{number // len(WORDS)}" if number >= len(WORDS) else ""
        )
        areas.append(area)
        files.update(_area(area, rng))
        number += 1
    seeded: list[Seeded] = []
    blueprints = "\n".join(
        f"    from shop.{area} import bp as {area}_bp\n\n    app.register_blueprint({area}_bp)"
        for area in areas
    )
    files["shop/__init__.py"] = _FACTORY.replace("    # blueprints\n", blueprints + "\n")
    for index, area in enumerate(areas):
        model = _model_names(area)[0]
        kind = index % 11
        if kind == 3:
            path = f"scripts/backfill_{area}.py"
            files[path] = _BUGGY_SCRIPT.format(area=area, model=model)
            seeded.append(Seeded("CTX101", path, 8))
        elif kind == 5:
            path = f"scripts/report_{area}.py"
            files[path] = _BUGGY_REPORT.format(area=area, model_lower=model.lower())
            seeded.append(Seeded("CTX102", path, 14))
        elif kind == 7:
            path = f"shop/{area}/notify.py"
            files[path] = _BUGGY_THREAD.format(area=area, model=model)
            seeded.append(Seeded("CTX103", path, 14))
        elif kind == 9:
            path = f"tests/{area}/test_{area}_totals.py"
            files[path] = _BUGGY_TEST.format(area=area, model_lower=model.lower())
            seeded.append(Seeded("CTX104", path, 5))
        else:
            files[f"scripts/export_{area}.py"] = _GOOD_SCRIPT.format(area=area, model=model)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return seeded


def count_lines(root: Path) -> int:
    return sum(p.read_text(encoding="utf-8").count("\n") for p in root.rglob("*.py"))


def _model_names(area: str) -> list[str]:
    base = area.rstrip("0123456789").removesuffix("s").capitalize()
    return [base, f"{base}Line", f"{base}Note", f"{base}Event"]


def _area(area: str, rng: random.Random) -> dict[str, str]:
    models = _model_names(area)
    fields = ["name", "code", "status", "amount", "quantity", "notes", "created", "owner"]
    model_code = [f'"""The {area} area\'s tables."""\n\nfrom datetime import datetime\n']
    model_code.append("from shop.extensions import db\n")
    for model in models:
        chosen = rng.sample(fields, k=rng.randint(4, len(fields)))
        columns = "\n".join(
            f"    {field} = db.Column(db.{_column_type(field)}, nullable={rng.random() < 0.5})"
            for field in chosen
        )
        model_code.append(
            textwrap.dedent(
                f'''

                class {model}(db.Model):
                    """A row of {area}: {", ".join(chosen)}."""

                    __tablename__ = "{area}_{model.lower()}"
                    id = db.Column(db.Integer, primary_key=True)
                '''
            )
            + columns
            + textwrap.dedent(
                f'''


                    def __repr__(self):
                        return f"<{model} {{self.id}}>"

                    def to_dict(self):
                        """The row as JSON the API returns."""
                        return {{"id": self.id, {", ".join(f'"{f}": self.{f}' for f in chosen)}}}

                    @classmethod
                    def by_id(cls, item_id):
                        return db.session.get(cls, item_id)

                    @property
                    def label(self):
                        return f"{model.lower()}-{{self.id:06d}}"
                '''
            )
            .replace("\n", "\n    ")
            .rstrip()
            + "\n"
        )
    services = [
        f'"""What the {area} views and scripts do with the database."""\n',
        "from flask import current_app\n",
        "from shop.extensions import db",
        f"from shop.{area}.models import {', '.join(models)}",
        f"from shop.{area}.helpers import clean_name",
        f"from shop.{area}.helpers import page_bounds\n",
    ]
    for model in models:
        lower = model.lower()
        services.append(
            textwrap.dedent(
                f'''

                def list_{lower}s(page=1):
                    """One page of {lower}s, newest first."""
                    start, stop = page_bounds(page, current_app.config["PAGE_SIZE"])
                    rows = db.session.scalars(db.select({model}).order_by({model}.id.desc()))
                    return list(rows)[start:stop]


                def create_{lower}(data):
                    """Add a {lower} from a form's data; the new row."""
                    row = {model}()
                    for key, value in data.items():
                        if hasattr(row, key):
                            value = clean_name(value) if isinstance(value, str) else value
                            setattr(row, key, value)
                    db.session.add(row)
                    db.session.commit()
                    return row


                def delete_{lower}(item_id):
                    row = db.session.get({model}, item_id)
                    if row is None:
                        return False
                    db.session.delete(row)
                    db.session.commit()
                    return True


                def total_{lower}s():
                    return db.session.scalar(db.select(db.func.count({model}.id))) or 0
                '''
            )
        )
    views = [
        f'"""The {area} pages and API."""\n',
        "from flask import abort\nfrom flask import jsonify\nfrom flask import render_template",
        "from flask import request\n",
        f"from shop.{area} import bp\nfrom shop.{area} import services",
        f"from shop.{area}.forms import {models[0]}Form\n",
    ]
    for model in models:
        lower = model.lower()
        views.append(
            textwrap.dedent(
                f'''

                @bp.get("/{lower}s")
                def {lower}_index():
                    page = request.args.get("page", 1, type=int)
                    rows = services.list_{lower}s(page)
                    if request.accept_mimetypes.best == "application/json":
                        return jsonify([row.to_dict() for row in rows])
                    return render_template("{area}/{lower}_index.html", rows=rows, page=page)


                @bp.post("/{lower}s")
                def {lower}_create():
                    form = {models[0]}Form(request.form)
                    if not form.validate():
                        return jsonify(errors=form.errors), 400
                    row = services.create_{lower}(form.data)
                    return jsonify(row.to_dict()), 201


                @bp.delete("/{lower}s/<int:item_id>")
                def {lower}_delete(item_id):
                    if not services.delete_{lower}(item_id):
                        abort(404)
                    return "", 204
                '''
            )
        )
    form = textwrap.dedent(
        f'''
        """Validation of the {area} forms, without a form library."""

        import re

        NAME = re.compile(r"^[\\w .'-]{{1,80}}$")


        class {models[0]}Form:
            """Checks a submitted form; ``errors`` says what is wrong, field by field."""

            def __init__(self, data):
                self.data = {{key: value.strip() for key, value in data.items()}}
                self.errors = {{}}

            def validate(self):
                self.errors = {{}}
                name = self.data.get("name", "")
                if not NAME.match(name):
                    self.errors["name"] = "letters, digits and spaces, up to 80"
                amount = self.data.get("amount", "0")
                try:
                    if float(amount) < 0:
                        self.errors["amount"] = "not below zero"
                except ValueError:
                    self.errors["amount"] = "a number"
                return not self.errors
        '''
    )
    helpers = textwrap.dedent(
        '''
        """Small pure helpers: no Flask, no database."""


        def clean_name(value):
            """Collapse whitespace and strip control characters."""
            kept = "".join(ch for ch in value if ch.isprintable())
            return " ".join(kept.split())


        def page_bounds(page, size):
            page = max(int(page), 1)
            return (page - 1) * size, page * size


        def chunks(items, size):
            for start in range(0, len(items), size):
                yield items[start : start + size]


        def percent(part, whole):
            if not whole:
                return 0.0
            return round(100.0 * part / whole, 1)
        '''
    )
    task = textwrap.dedent(
        f'''
        """Recount the {area} totals off the request thread."""

        import threading

        from flask import current_app

        from shop.extensions import db
        from shop.{area}.models import {models[0]}


        def recount_later():
            app = current_app._get_current_object()
            threading.Thread(target=_recount, args=(app,), daemon=True).start()


        def _recount(app):
            with app.app_context():
                total = db.session.scalar(db.select(db.func.count({models[0]}.id)))
                app.logger.info("{area}: %d rows", total)
        '''
    )
    tests = textwrap.dedent(
        f"""
        from shop.extensions import db
        from shop.{area} import services
        from shop.{area}.helpers import clean_name
        from shop.{area}.models import {models[0]}


        def test_clean_name_collapses_spaces():
            assert clean_name("  a   b ") == "a b"


        def test_create_then_list(app):
            services.create_{models[0].lower()}({{"name": "first"}})
            assert services.total_{models[0].lower()}s() == 1


        def test_index_answers_json(client):
            headers = {{"Accept": "application/json"}}
            response = client.get("/{area}/{models[0].lower()}s", headers=headers)
            assert response.status_code == 200


        def test_delete_missing_is_404(client):
            assert client.delete("/{area}/{models[0].lower()}s/999").status_code == 404


        def test_rows_are_counted(app):
            db.session.add({models[0]}())
            db.session.commit()
            assert services.total_{models[0].lower()}s() == 1
        """
    )
    return {
        f"shop/{area}/__init__.py": (
            f'"""The {area} area."""\n\nfrom flask import Blueprint\n\n'
            f'bp = Blueprint("{area}", __name__, url_prefix="/{area}")\n\n'
            f"from shop.{area} import views  # noqa: E402,F401\n"
        ),
        f"shop/{area}/models.py": "\n".join(model_code),
        f"shop/{area}/services.py": "\n".join(services),
        f"shop/{area}/views.py": "\n".join(views),
        f"shop/{area}/forms.py": form,
        f"shop/{area}/helpers.py": helpers,
        f"shop/{area}/tasks.py": task,
        f"tests/{area}/__init__.py": "",
        f"tests/{area}/test_{area}.py": tests,
    }


def _column_type(field: str) -> str:
    return {"amount": "Numeric(10, 2)", "quantity": "Integer", "created": "DateTime"}.get(
        field, "String(120)"
    )


_EXTENSIONS = '''"""The Flask extensions, made here and bound to the app in create_app()."""

from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
'''
_SETTINGS = '''"""Settings read from the environment."""

import os

SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///shop.db")
SECRET_KEY = os.environ.get("SECRET_KEY", "dev")
PAGE_SIZE = int(os.environ.get("PAGE_SIZE", "25"))
'''
_FACTORY = '''"""The application factory."""

from flask import Flask

from shop.extensions import db


def create_app(config_object="shop.settings"):
    app = Flask(__name__)
    app.config.from_object(config_object)
    db.init_app(app)
    # blueprints
    with app.app_context():
        db.create_all()
    return app
'''
_CONFTEST = """import pytest

from shop import create_app
from shop.extensions import db


@pytest.fixture
def app():
    app = create_app("tests.settings")
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()


@pytest.fixture
def client(app):
    return app.test_client()
"""
_GOOD_SCRIPT = '''"""Export the {area} as CSV: python -m scripts.export_{area}"""

import csv
import sys

from shop import create_app
from shop.extensions import db
from shop.{area}.models import {model}


def main():
    app = create_app()
    with app.app_context():
        writer = csv.writer(sys.stdout)
        for row in db.session.scalars(db.select({model})):
            writer.writerow(row.to_dict().values())


if __name__ == "__main__":
    main()
'''
_BUGGY_SCRIPT = '''"""Backfill the {area}' labels."""

from shop.extensions import db
from shop.{area}.models import {model}

BATCH = 500

rows = db.session.scalars(db.select({model}).limit(BATCH)).all()
for row in rows:
    row.notes = row.label
db.session.commit()
'''
_BUGGY_REPORT = '''"""Print the {area} totals: python -m scripts.report_{area}"""

import argparse

from shop.{area} import services


def parse_args():
    return argparse.ArgumentParser(description=__doc__).parse_args()


if __name__ == "__main__":
    parse_args()
    print(services.total_{model_lower}s())
'''
_BUGGY_THREAD = '''"""Tell the owner, off the request thread."""

import threading

from shop.extensions import db
from shop.{area}.models import {model}


def notify_later(item_id):
    threading.Thread(target=_notify, args=(item_id,)).start()


def _notify(item_id):
    row = db.session.get({model}, item_id)
    print("notify", row.label)
'''
_BUGGY_TEST = """from shop.{area} import services


def test_totals_start_at_zero():
    assert services.total_{model_lower}s() == 0
"""
