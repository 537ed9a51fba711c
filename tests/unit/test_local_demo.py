"""The demo ledger of `arcollect local --demo`: deterministic, importable, and shaped like a real one."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from decimal import Decimal

from email_validator import validate_email
from stdnum.us import ein

from arcollect.local.demo import (
    DEMO_CUSTOMERS,
    DEMO_INVOICES,
    format_amount,
    generate_demo_ledger,
    load_demo,
)
from shared.ledger.formats import COLUMNS
from shared.money import currency_exponent

TODAY = dt.date(2026, 11, 22)
LEDGER = generate_demo_ledger(TODAY)


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


CUSTOMERS, INVOICES, PAYMENTS = rows(LEDGER.customers), rows(LEDGER.invoices), rows(LEDGER.payments)


def decimals(text: str) -> int:
    return len(text.partition(".")[2])


def test_same_seed_and_day_give_the_same_files_and_another_day_moves_the_dates() -> None:
    again = generate_demo_ledger(TODAY)
    assert (again.customers, again.invoices, again.payments) == (LEDGER.customers, LEDGER.invoices, LEDGER.payments)
    later = generate_demo_ledger(TODAY + dt.timedelta(days=7))
    assert (
        rows(later.invoices)[0]["due_date"]
        == (dt.date.fromisoformat(INVOICES[0]["due_date"]) + dt.timedelta(days=7)).isoformat()
    )


def test_the_files_have_the_import_columns_in_order() -> None:
    for kind in ("customers", "invoices", "payments"):
        header = LEDGER.file(kind).decode().splitlines()[0].split(",")
        assert tuple(header) == COLUMNS[kind]


def test_counts_and_ids_are_unique() -> None:
    assert len(CUSTOMERS) == DEMO_CUSTOMERS
    assert len(INVOICES) == DEMO_INVOICES
    assert len({c["customer_id"] for c in CUSTOMERS}) == DEMO_CUSTOMERS
    assert len({i["invoice_id"] for i in INVOICES}) == DEMO_INVOICES
    assert len({p["payment_id"] for p in PAYMENTS}) == len(PAYMENTS) > 0
    assert len({c["legal_name"] for c in CUSTOMERS}) == DEMO_CUSTOMERS


def test_customers_look_real_and_pass_the_validators() -> None:
    for customer in CUSTOMERS:
        address = customer["ap_email"]
        assert validate_email(address, check_deliverability=False).normalized == address
        assert not address.endswith((".test", ".example", "example.com", ".invalid"))
        assert customer["timezone"].count("/") == 1
        assert int(customer["terms_days"]) in (15, 30, 45, 60)
    us = [c for c in CUSTOMERS if c["country"] == "US"]
    assert all(c["tin_type"] == "ein" for c in us)
    valid = [c for c in us if ein.is_valid(c["tin"])]
    assert len(us) - len(valid) == 3  # deliberately unissued prefixes, for onboarding to flag
    assert all(len(c["tin"]) == 10 and c["tin"][2] == "-" for c in us)
    assert {c["currency"] for c in CUSTOMERS} == {"USD", "EUR", "GBP", "JPY"}
    assert {c["segment"] for c in CUSTOMERS} == {"default", "strategic"}


def test_every_amount_has_exactly_the_decimals_of_its_currency() -> None:
    for record in INVOICES + PAYMENTS:
        exponent = currency_exponent(record["currency"])
        for column in ("amount", "balance"):
            if column in record:
                assert decimals(record[column]) == exponent, record
                assert Decimal(record[column]) >= 0
    yen = [i for i in INVOICES if i["currency"] == "JPY"]
    assert yen and all("." not in i["amount"] for i in yen)
    assert format_amount(Decimal("12.5"), "USD") == "12.50"
    assert format_amount(Decimal(125000), "JPY") == "125000"


def test_invoices_mix_terms_ages_and_currencies() -> None:
    customers = {c["customer_id"]: c for c in CUSTOMERS}
    days_past_due = []
    for invoice in INVOICES:
        issue, due = dt.date.fromisoformat(invoice["issue_date"]), dt.date.fromisoformat(invoice["due_date"])
        assert issue <= due and issue <= TODAY
        assert invoice["currency"] == customers[invoice["customer_id"]]["currency"]
        days_past_due.append((TODAY - due).days)
    assert min(days_past_due) < 0  # some are not yet due
    assert max(days_past_due) > 120
    assert sum(1 for d in days_past_due if 1 <= d <= 30) > 50
    assert (
        len({(dt.date.fromisoformat(i["due_date"]) - dt.date.fromisoformat(i["issue_date"])).days for i in INVOICES})
        >= 4
    )
    assert Counter(i["currency"] for i in INVOICES).keys() == {"USD", "EUR", "GBP", "JPY"}


def test_payments_never_exceed_what_was_owed_and_partial_ones_leave_a_balance() -> None:
    invoices = {i["invoice_id"]: i for i in INVOICES}
    listed: dict[str, Decimal] = defaultdict(Decimal)
    for payment in PAYMENTS:
        invoice = invoices[payment["invoice_id"]]
        assert payment["customer_id"] == invoice["customer_id"]
        assert payment["currency"] == invoice["currency"]
        paid_on = dt.date.fromisoformat(payment["date"])
        assert dt.date.fromisoformat(invoice["issue_date"]) <= paid_on <= TODAY
        assert Decimal(payment["amount"]) > 0
        listed[payment["invoice_id"]] += Decimal(payment["amount"])
    for invoice_id, total in listed.items():
        invoice = invoices[invoice_id]
        # The ERP's balance column already reflects the payments listed: the two views agree.
        assert total == Decimal(invoice["amount"]) - Decimal(invoice["balance"])
    balances = [(Decimal(i["amount"]), Decimal(i["balance"])) for i in INVOICES]
    assert sum(1 for _, balance in balances if balance == 0) > 50  # paid in full
    assert sum(1 for amount, balance in balances if 0 < balance < amount) > 20  # partly paid
    assert sum(1 for amount, balance in balances if balance == amount) > 200  # open
    partly_paid_with_rows = [i for i in listed if 0 < Decimal(invoices[i]["balance"]) < Decimal(invoices[i]["amount"])]
    fully_paid_with_rows = [i for i in listed if Decimal(invoices[i]["balance"]) == 0]
    assert partly_paid_with_rows and fully_paid_with_rows


def test_load_demo_imports_customers_then_invoices_then_payments() -> None:
    calls = []

    class RecordingImporter:
        def import_file(self, kind: str, data: bytes, *, source: str) -> str:
            calls.append((kind, data, source))
            return f"report:{kind}"

    reports = load_demo(RecordingImporter(), LEDGER)
    assert [kind for kind, _, _ in calls] == ["customers", "invoices", "payments"]
    assert [data for _, data, _ in calls] == [LEDGER.customers, LEDGER.invoices, LEDGER.payments]
    assert reports == {"customers": "report:customers", "invoices": "report:invoices", "payments": "report:payments"}
