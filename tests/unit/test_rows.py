from datetime import date

import pytest

from shared.errors import ValidationError
from shared.ledger.formats import COLUMNS
from shared.ledger.rows import (
    MAX_LENGTH,
    UNREADABLE,
    parse_credit,
    parse_customer,
    parse_invoice,
    parse_payment,
)

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
PAYMENT = {"payment_id": "P1", "customer_id": "C1", "date": "2026-11-01", "currency": "USD", "amount": "12.50"}
CREDIT = {
    "credit_id": "CN-1",
    "customer_id": "C1",
    "invoice_id": "INV-1",
    "date": "2026-11-02",
    "amount": "40.00",
    "currency": "EUR",
    "reason": "damaged goods",
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
        ({"issue_date": "\uff12\uff10\uff12\uff16-10-01"}, "is not an ISO date"),  # full-width digits
        ({"due_date": "2026-02-30"}, "due_date '2026-02-30' is not a real date"),
        ({"due_date": "2026-09-30"}, "due_date 2026-09-30 is before issue_date 2026-10-01"),
        ({"amount": "-5"}, "amount -5 is negative"),
        ({"amount": "ten"}, "amount 'ten' is not a decimal number"),
        ({"amount": "1,50"}, "amount '1,50' is ambiguous"),
        ({"amount": "1e3"}, "amount '1e3' is not a plain decimal number"),
        ({"amount": "92233720368547758.08"}, "amount 92233720368547758.08 is larger than can be stored"),
        ({"amount": ""}, "amount is required"),
        ({"currency": "DOLLARS"}, "unknown currency 'DOLLARS'"),
        ({"balance": "2000"}, "balance 2000.00 is larger than the invoice amount 1250.00"),
        ({"balance": "1,5"}, "balance '1,5' is ambiguous"),
        ({"customer_id": ""}, "customer_id is required"),
        ({"invoice_id": "A#B"}, "invoice_id 'A#B' must not contain '#'"),
        ({"invoice_id": "A\x1b[2JB"}, "invoice_id 'A\\x1b[2JB' has control or invisible characters"),
        ({"invoice_id": "x" * 129}, "invoice_id is too long (129 characters; at most 128)"),
        ({"po_number": "p" * 101}, "po_number is too long (101 characters; at most 100)"),
    ],
)
def test_values_that_cannot_be_stored_reject_the_row_with_the_reason(change: dict, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_invoice({**INVOICE, **change})
    assert reason in caught.value.message


def test_a_zero_decimal_currency_refuses_cents() -> None:
    with pytest.raises(ValidationError, match="more decimals than JPY allows"):
        parse_invoice({**INVOICE, "currency": "JPY", "amount": "100.50"})


def test_a_reason_quotes_only_a_short_prefix_of_a_bad_value() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_invoice({**INVOICE, "due_date": "z" * 90})
    assert caught.value.message == f"due_date '{'z' * 40}…' is not an ISO date (YYYY-MM-DD)"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"timezone": "America"}, "timezone 'America' is not an IANA time zone"),  # a directory of the database
        ({"timezone": "../../etc/passwd"}, "not an IANA time zone"),
        ({"terms_days": "thirty"}, "terms_days 'thirty'"),
        ({"terms_days": "400"}, "from 0 to 365"),
        ({"terms_days": "\u00b2"}, "from 0 to 365"),  # a superscript two: str.isdigit says yes, int() says no
        ({"terms_days": "9" * 5000}, "terms_days is too long (5000 characters; at most 100)"),
        ({"country": "USA"}, "two-letter"),
        ({"currency": "EURO"}, "unknown currency"),
        ({"legal_name": "n" * 201}, "legal_name is too long (201 characters; at most 200)"),
        ({"ap_email": "a" * 250 + "@x.io"}, "ap_email is too long (255 characters; at most 254)"),
        ({"phone": "1" * 33}, "phone is too long"),
        ({"segment": "s" * 65}, "segment is too long"),
    ],
)
def test_customer_values_that_cannot_be_stored(change: dict, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_customer({"customer_id": "C1", **change})
    assert reason in caught.value.message


def test_a_customer_needs_only_its_id() -> None:
    row = parse_customer({"customer_id": "C1", "country": "us", "terms_days": "45"})
    assert (row.country, row.terms_days, row.ap_email) == ("US", 45, None)


def test_an_over_long_tin_rejects_the_row_without_showing_the_tin() -> None:
    tin = "12-3456789" * 4
    with pytest.raises(ValidationError) as caught:
        parse_customer({"customer_id": "C1", "tin": tin})
    assert caught.value.message == "tin is too long (40 characters; at most 32)"
    assert "3456789" not in caught.value.message


def test_no_reason_built_from_a_customer_row_quotes_its_tin() -> None:
    tin = "987654321"
    bad_values = {
        "country": "USA",
        "timezone": "Nowhere/Else",
        "terms_days": "x",
        "currency": "ZZZ",
        "legal_name": "n" * 300,
        "customer_id": "",
    }
    for column, bad in bad_values.items():
        with pytest.raises(ValidationError) as caught:
            parse_customer({"customer_id": "C1", "tin": tin, "tin_type": "ssn", column: bad})
        assert tin not in caught.value.message


def test_every_column_of_every_kind_has_a_length_limit_or_its_own_grammar() -> None:
    grammar = {"issue_date", "due_date", "date", "currency", "amount", "balance", "country", "terms_days"}
    for columns in COLUMNS.values():
        assert set(columns) <= set(MAX_LENGTH) | grammar


def test_a_payment_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="greater than zero"):
        parse_payment({**PAYMENT, "amount": "0"})
    with pytest.raises(ValidationError, match="negative"):
        parse_payment({**PAYMENT, "amount": "-1"})
    assert parse_payment({**PAYMENT, "amount": "12.5"}).amount_minor == 1250


def test_a_payment_naming_an_invoice_checks_that_id_like_any_other() -> None:
    assert parse_payment({**PAYMENT, "invoice_id": "INV-1"}).invoice_id == "INV-1"
    assert parse_payment({**PAYMENT, "invoice_id": ""}).invoice_id is None
    with pytest.raises(ValidationError, match="invoice_id 'I#1' must not contain '#'"):
        parse_payment({**PAYMENT, "invoice_id": "I#1"})


def test_a_good_credit_note_row_becomes_a_credit() -> None:
    credit = parse_credit(CREDIT)
    assert (credit.credit_id, credit.customer_id, credit.invoice_id) == ("CN-1", "C1", "INV-1")
    assert (credit.credited_on, credit.currency, credit.amount_minor) == (date(2026, 11, 2), "EUR", 4000)
    assert credit.reason == "damaged goods"


def test_a_credit_note_needs_no_invoice_and_no_reason() -> None:
    credit = parse_credit({**CREDIT, "invoice_id": "", "reason": ""})
    assert (credit.invoice_id, credit.reason) == (None, None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"credit_id": ""}, "credit_id is required"),
        ({"credit_id": "CN#1"}, "must not contain '#'"),
        ({"date": "2.11.2026"}, "date '2.11.2026' is not an ISO date"),
        ({"amount": "0"}, "amount must be greater than zero"),
        ({"amount": "-40"}, "amount -40 is negative"),
        ({"amount": "40,5"}, "ambiguous"),
        ({"currency": ""}, "currency is required"),
        ({"reason": "r" * 501}, "reason is too long (501 characters; at most 500)"),
    ],
)
def test_credit_note_values_that_cannot_be_stored_reject_the_row(change: dict, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_credit({**CREDIT, **change})
    assert reason in caught.value.message


def test_a_value_the_column_map_could_not_read_rejects_the_row_with_the_maps_reason() -> None:
    reason = "amount '1.2345,6' is not an amount as written in de_DE (such as 1.234,56)"
    for parse, row in ((parse_invoice, INVOICE), (parse_payment, PAYMENT), (parse_credit, CREDIT)):
        with pytest.raises(ValidationError) as caught:
            parse({**row, UNREADABLE: reason})
        assert caught.value.message == reason
