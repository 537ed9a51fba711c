from datetime import date

import pytest

from shared.errors import ValidationError
from shared.ledger.rows import parse_customer, parse_invoice, parse_payment

INVOICE = {
    "invoice_id": "INV-1",
    "customer_id": "C1",
    "number": "1001",
    "issue_date": "2026-10-01",
    "due_date": "2026-10-31",
    "currency": "usd",
    "amount": "1,250.00",
    "balance": "",
    "po_number": "",
}


def test_a_good_invoice_row_becomes_minor_units_and_dates() -> None:
    row = parse_invoice(INVOICE)
    assert row.currency == "USD"
    assert row.amount_minor == 125000
    assert row.balance_minor is None  # empty means unknown
    assert row.due_date == date(2026, 10, 31)
    assert row.po_number is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"issue_date": "10/01/2026"}, "issue_date '10/01/2026' is not an ISO date"),
        ({"due_date": "2026-02-30"}, "due_date '2026-02-30' is not a real date"),
        ({"due_date": "2026-09-30"}, "due_date 2026-09-30 is before issue_date 2026-10-01"),
        ({"amount": "-5"}, "amount -5 is negative"),
        ({"amount": "ten"}, "amount 'ten' is not a decimal number"),
        ({"amount": ""}, "amount is required"),
        ({"currency": "DOLLARS"}, "unknown currency 'DOLLARS'"),
        ({"balance": "2000"}, "balance 2000 is larger than the invoice amount"),
        ({"customer_id": ""}, "customer_id is required"),
        ({"invoice_id": "A#B"}, "without '#'"),
    ],
)
def test_values_that_cannot_be_stored_reject_the_row_with_the_reason(change: dict, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_invoice({**INVOICE, **change})
    assert reason in caught.value.message


def test_a_zero_decimal_currency_refuses_cents() -> None:
    with pytest.raises(ValidationError, match="more decimals than JPY allows"):
        parse_invoice({**INVOICE, "currency": "JPY", "amount": "100.50"})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"terms_days": "thirty"}, "terms_days 'thirty'"),
        ({"terms_days": "400"}, "from 0 to 365"),
        ({"country": "USA"}, "two-letter"),
        ({"currency": "EURO"}, "unknown currency"),
    ],
)
def test_customer_values_that_cannot_be_stored(change: dict, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        parse_customer({"customer_id": "C1", **change})


def test_a_customer_needs_only_its_id() -> None:
    row = parse_customer({"customer_id": "C1", "country": "us", "terms_days": "45"})
    assert (row.country, row.terms_days, row.ap_email) == ("US", 45, None)


def test_a_payment_must_be_positive() -> None:
    base = {"payment_id": "P1", "customer_id": "C1", "date": "2026-11-01", "currency": "USD"}
    with pytest.raises(ValidationError, match="greater than zero"):
        parse_payment({**base, "amount": "0"})
    with pytest.raises(ValidationError, match="negative"):
        parse_payment({**base, "amount": "-1"})
    assert parse_payment({**base, "amount": "12.5"}).amount_minor == 1250
