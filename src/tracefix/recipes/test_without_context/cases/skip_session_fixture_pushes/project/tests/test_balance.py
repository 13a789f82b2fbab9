from ledger.models import balance


def test_empty_ledger_has_zero_balance():
    assert balance() == 0
