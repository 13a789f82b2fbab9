"""recipes/_codemod.py: locate, wrap and import, with everything else left as it was."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import add_imports
from tracefix.recipes._codemod import free_name
from tracefix.recipes._codemod import is_context_with
from tracefix.recipes._codemod import is_main_guard
from tracefix.recipes._codemod import relocate_line
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes._codemod import wrap_statements
from tracefix.recipes._codemod import wrappable_run


def parse(code: str) -> cst.Module:
    return cst.parse_module(textwrap.dedent(code))


IMPORTS = [
    pytest.param(
        "from app import db\n\nx = 1\n",
        ["from app import create_app"],
        "from app import create_app, db\n\nx = 1\n",
        id="joins a line from the same module, sorted",
    ),
    pytest.param(
        "from app import create_app, db\n\nx = 1\n",
        ["from app import create_app"],
        "from app import create_app, db\n\nx = 1\n",
        id="an import already there is left alone",
    ),
    pytest.param(
        "import os.path\n\nx = 1\n",
        ["import os"],
        "import os.path\n\nx = 1\n",
        id="import os.path already binds os",
    ),
    pytest.param(
        "import sys\n\nfrom app.models import User\n\nx = 1\n",
        ["import os", "from app import create_app"],
        "import os\nimport sys\n\nfrom app import create_app\nfrom app.models import User\n"
        "\nx = 1\n",
        id="each kind of import in sorted place in its group",
    ),
    pytest.param(
        '"""Doc."""\nx = 1\n',
        ["from app import create_app"],
        '"""Doc."""\nfrom app import create_app\nx = 1\n',
        id="after the docstring when there is no import",
    ),
    pytest.param(
        "import sys\nsys.path.insert(0, 'src')\nfrom shop import db  # noqa: E402\nx = 1\n",
        ["from web import create_app"],
        "import sys\nsys.path.insert(0, 'src')\nfrom shop import db  # noqa: E402\n"
        "from web import create_app\nx = 1\n",
        id="below the sys.path set-up the imports need",
    ),
    pytest.param(
        "from app import (\n    db,\n)\nx = 1\n",
        ["from app import create_app", "from app import mail"],
        "from app import (\n    create_app,\n    db,\n    mail,\n)\nx = 1\n",
        id="joins a parenthesised import, one name a line, its trailing comma kept",
    ),
    pytest.param(
        "from flask import (Blueprint,\n                   request)\nx = 1\n",
        ["from flask import stream_with_context"],
        "from flask import (Blueprint,\n                   request,\n                   "
        "stream_with_context)\nx = 1\n",
        id="joins a parenthesised import wrapped by hand, without a trailing comma",
    ),
    pytest.param(
        "from flask import current_app as app\nx = 1\n",
        ["from flask import stream_with_context"],
        "from flask import current_app as app\nfrom flask import stream_with_context\nx = 1\n",
        id="an import of as-names only stays apart, as isort keeps it (CTFd's)",
    ),
]


@pytest.mark.parametrize(("code", "statements", "expected"), IMPORTS)
def test_add_imports(code, statements, expected):
    module = cst.parse_module(code)
    anchor = len(module.body) - 1
    assert add_imports(module, statements, before=anchor).code == expected


def test_add_imports_refuses_a_name_already_used():
    module = parse("create_app = None\nx = 1\n")
    with pytest.raises(SkipFix, match="create_app"):
        add_imports(module, ["from app import create_app"], before=1)


def test_wrap_keeps_blank_lines_outside_and_comments_with_their_statement():
    module = parse("""\
        import x


        # first
        a()

        b()  # trailing
        c = 1
        """)
    wrapped = wrap_statements(module, module, 1, 3, "app.app_context()", before=["app = make()"])
    assert wrapped.code == textwrap.dedent("""\
        import x


        app = make()

        with app.app_context():
            # first
            a()

            b()  # trailing
        c = 1
        """)


def test_wrap_inside_an_indented_block():
    module = parse("""\
        if __name__ == "__main__":
            a()
            b()
        """)
    chain = statement_chain(module, 3)
    assert [located.index for located in chain] == [0, 1]
    assert is_main_guard(chain[0].statement)
    block = chain[1].block
    assert isinstance(block, cst.IndentedBlock)
    wrapped = wrap_statements(module, block, 1, 2, "app.app_context()", before=["app = make()"])
    assert wrapped.code == textwrap.dedent("""\
        if __name__ == "__main__":
            a()
            app = make()
            with app.app_context():
                b()
        """)
    assert is_context_with(statement_chain(wrapped, 5)[1].statement)


def test_statement_chain_follows_else_and_except_blocks():
    module = parse("""\
        try:
            a()
        except ValueError:
            if x:
                pass
            else:
                b()
        """)
    chain = statement_chain(module, 7)
    assert [type(located.statement).__name__ for located in chain] == [
        "Try",
        "If",
        "SimpleStatementLine",
    ]
    assert statement_chain(module, 99) == ()


def test_wrappable_run_stops_at_definitions_imports_and_the_main_block():
    module = parse('''\
        """Doc."""
        import x
        a()
        b()
        def f():
            pass
        c()
        if __name__ == "__main__":
            d()
        ''')
    assert wrappable_run(module.body, 3) == (2, 4)
    assert wrappable_run(module.body, 5) == (5, 6)


RELOCATIONS = [
    pytest.param("a()\nb()\n", 2, "b()", 2, id="the line still reads the same"),
    pytest.param("x = 0\na()\nb()\n", 2, "b()", 3, id="moved down by an edit"),
    pytest.param("b()\nb()\n", 3, "b()", None, id="ambiguous"),
    pytest.param("a()\n", 1, "gone()", None, id="no longer there"),
    pytest.param("a()\n", 1, None, 1, id="no text to check"),
]


@pytest.mark.parametrize(("source", "line", "text", "expected"), RELOCATIONS)
def test_relocate_line(source, line, text, expected):
    assert relocate_line(source, line, text) == expected


def test_free_name_avoids_module_names_and_globals_that_functions_read():
    assert free_name(parse("import app.models\n")) == "flask_app"
    assert free_name(parse("def f():\n    return app\n")) == "flask_app"
    assert free_name(parse("def f(app):\n    return app\n")) == "app"
    assert free_name(parse("from app import db\n")) == "app"
    assert free_name(parse("app = 1\nflask_app = 2\n")) is None
