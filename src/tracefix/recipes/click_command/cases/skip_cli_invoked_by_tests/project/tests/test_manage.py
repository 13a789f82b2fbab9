from click.testing import CliRunner

from library import db
from library.models import Loan
from manage import cli


def test_overdue_lists_open_loans(app):
    db.session.add(Loan(book="Dune"))
    db.session.commit()
    result = CliRunner().invoke(cli, ["overdue"])
    assert result.output == "Dune\n"
