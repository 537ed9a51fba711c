"""Money is conserved, whatever the order: the ledger's invariant as a hypothesis property over generated
sequences of imports (customers, invoices with and without ERP balances, named and unnamed payments,
credit notes, re-imports, changed amounts, repeated files, any order), run through the real importer
against the in-memory store."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ledger.formats import COLUMNS
from shared.ledger.importer import LedgerImporter
from tests.unit.ledger_fakes import FakeTinVault, InMemoryLedgerStore

TODAY = datetime(2026, 3, 1, 12, tzinfo=UTC)
CUSTOMERS = ("C1", "C2")
CURRENCIES = ("USD", "JPY")
START = date(2026, 1, 1)


def csv_bytes(kind: str, rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS[kind], lineterminator="\n")  # type: ignore[index]
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def money(minor: int, currency: str) -> str:
    return str(minor) if currency == "JPY" else f"{minor // 100}.{minor % 100:02d}"


@st.composite
def invoices(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for number in range(draw(st.integers(1, 5))):
        currency = draw(st.sampled_from(CURRENCIES))
        amount = draw(st.integers(1, 50_000))
        issued = START + timedelta(days=draw(st.integers(0, 40)))
        balance = draw(st.one_of(st.none(), st.integers(0, amount)))
        rows.append(
            {
                "invoice_id": f"I{number}",
                "customer_id": draw(st.sampled_from(CUSTOMERS)),
                "issue_date": issued.isoformat(),
                "due_date": (issued + timedelta(days=draw(st.sampled_from([0, 15, 30])))).isoformat(),
                "currency": currency,
                "amount": money(amount, currency),
                "balance": "" if balance is None else money(balance, currency),
                "_minor": amount,
            }
        )
    return rows


@st.composite
def documents(draw: st.DrawFn, kind: str, invoice_ids: list[str]) -> list[dict[str, Any]]:
    id_column = "payment_id" if kind == "payments" else "credit_id"
    rows = []
    for number in range(draw(st.integers(0, 5))):
        currency = draw(st.sampled_from(CURRENCIES))
        row = {
            id_column: f"{kind[0].upper()}{number}",
            "customer_id": draw(st.sampled_from(CUSTOMERS)),
            # Named documents may name an invoice not imported yet, or never.
            "invoice_id": draw(st.one_of(st.just(""), st.sampled_from([*invoice_ids, "I-unknown"]))),
            "date": (START + timedelta(days=draw(st.integers(0, 90)))).isoformat(),
            "amount": "",
            "currency": currency,
        }
        minor = draw(st.integers(1, 60_000))
        row["amount"] = money(minor, currency)
        row["_minor"] = minor
        rows.append(row)
    return rows


def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    final_invoices = draw(invoices())
    ids = [r["invoice_id"] for r in final_invoices]
    payments = draw(documents("payments", ids))
    credits = draw(documents("credits", ids))
    # Earlier versions of some invoices, with other amounts, imported before their final version.
    drafts = []
    for row in final_invoices:
        if draw(st.booleans()):
            draft = dict(row)
            minor = draw(st.integers(1, 50_000))
            draft["amount"] = money(minor, row["currency"])
            draft["balance"] = ""
            drafts.append(draft)
    # Files: each a random non-empty subset of one kind's rows; every row imported at least once.
    files: list[tuple[str, list[dict[str, Any]]]] = []
    for kind, rows in (("invoices", final_invoices), ("payments", payments), ("credits", credits)):
        if not rows:
            continue
        files.append((kind, rows))
        for _ in range(draw(st.integers(0, 2))):
            subset = draw(st.lists(st.sampled_from(rows), min_size=1, max_size=len(rows), unique_by=id))
            files.append((kind, subset))
    order = draw(st.permutations(range(len(files))))
    shuffled = [files[i] for i in order]
    return {"drafts": drafts, "files": shuffled, "canonical": files}


def run(drafts: list[dict[str, Any]], files: list[tuple[str, list[dict[str, Any]]]]) -> InMemoryLedgerStore:
    store = InMemoryLedgerStore()
    importer = LedgerImporter(repository=store, vault=FakeTinVault(), clock=lambda: TODAY)
    customers = [{"customer_id": c, "legal_name": c} for c in CUSTOMERS]
    importer.import_file("customers", csv_bytes("customers", customers), source="customers.csv")
    if drafts:
        importer.import_file("invoices", csv_bytes("invoices", strip(drafts)), source="drafts.csv")
    for kind, rows in files:
        report = importer.import_file(kind, csv_bytes(kind, strip(rows)), source=f"{kind}.csv")  # type: ignore[arg-type]
        assert report.rejected == 0, report.problems
    return store


def state(store: InMemoryLedgerStore) -> dict[str, Any]:
    invoices = store.invoices(i for c in CUSTOMERS for i in store.customer_invoice_ids(c))
    documents: dict[str, Any] = {}
    for c in CUSTOMERS:
        payment_ids, credit_ids = store.customer_document_ids(c)
        documents |= {f"p:{k}": v for k, v in store.payments(payment_ids).items()}
        documents |= {f"c:{k}": v for k, v in store.credit_notes(credit_ids).items()}
    customers = store.customers(CUSTOMERS)
    return {
        "invoices": {
            k: (
                int(v.amount_minor),
                int(v.balance_minor),
                int(v.erp_settled_minor),
                v.status,
                sorted((a.kind, a.payment_id, int(a.amount_minor)) for a in v.applied),
            )
            for k, v in invoices.items()
        },
        "documents": {
            k: (sorted((a.invoice_id, int(a.amount_minor)) for a in v.allocations), int(v.unapplied_minor))
            for k, v in documents.items()
        },
        "customers": {k: (v.credit_balances(), v.open_balances(), int(v.open_invoices)) for k, v in customers.items()},
    }


def assert_money_is_conserved(store: InMemoryLedgerStore) -> None:
    for customer_id in CUSTOMERS:
        customer = store.customers([customer_id])[customer_id]
        invoices = store.invoices(store.customer_invoice_ids(customer_id)).values()
        payment_ids, credit_ids = store.customer_document_ids(customer_id)
        docs = [*store.payments(payment_ids).values(), *store.credit_notes(credit_ids).values()]
        paid: dict[str, int] = defaultdict(int)
        for doc in docs:
            paid[doc.currency] += int(doc.amount_minor)
            assert int(doc.amount_minor) == sum(int(a.amount_minor) for a in doc.allocations) + int(doc.unapplied_minor)
        settled: dict[str, int] = defaultdict(int)
        open_: dict[str, int] = defaultdict(int)
        for invoice in invoices:
            assert 0 <= int(invoice.balance_minor) <= int(invoice.amount_minor)
            settled[invoice.currency] += (
                int(invoice.amount_minor) - int(invoice.balance_minor) - int(invoice.erp_settled_minor)
            )
            open_[invoice.currency] += int(invoice.balance_minor)
        credit = customer.credit_balances()
        for currency in set(paid) | set(settled) | set(credit):
            assert paid[currency] == settled[currency] + credit.get(currency, 0), (customer_id, currency)
        assert customer.open_balances() == {c: v for c, v in open_.items() if v}
        assert all(v >= 0 for v in credit.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_money_is_conserved_and_the_result_depends_only_on_the_set_of_rows(scenario: dict[str, Any]) -> None:
    shuffled = run(scenario["drafts"], scenario["files"])
    canonical = run(scenario["drafts"], scenario["canonical"])

    assert_money_is_conserved(shuffled)
    assert state(shuffled) == state(canonical)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_importing_every_file_again_changes_nothing(scenario: dict[str, Any]) -> None:
    once = run(scenario["drafts"], scenario["files"])
    twice = run(scenario["drafts"], scenario["files"] + scenario["files"])

    assert state(once) == state(twice)
    assert_money_is_conserved(twice)


def test_without_an_erp_balance_payments_and_credit_notes_equal_what_invoices_show_paid_plus_credit() -> None:
    store = run(
        [],
        [
            (
                "invoices",
                [
                    {
                        "invoice_id": "I1",
                        "customer_id": "C1",
                        "issue_date": "2026-01-01",
                        "due_date": "2026-01-31",
                        "currency": "USD",
                        "amount": "100.00",
                        "balance": "",
                    }
                ],
            ),
            (
                "payments",
                [
                    {
                        "payment_id": "P1",
                        "customer_id": "C1",
                        "invoice_id": "I1",
                        "date": "2026-02-01",
                        "amount": "130.00",
                        "currency": "USD",
                    }
                ],
            ),
            (
                "credits",
                [
                    {
                        "credit_id": "N1",
                        "customer_id": "C1",
                        "invoice_id": "",
                        "date": "2026-02-02",
                        "amount": "5.00",
                        "currency": "USD",
                    }
                ],
            ),
        ],
    )
    invoice = store.invoices(["I1"])["I1"]
    customer = store.customers(["C1"])["C1"]

    assert int(invoice.balance_minor) == 0 and int(invoice.erp_settled_minor) == 0
    assert customer.credit_balances() == {"USD": 3500}
