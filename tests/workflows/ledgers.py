"""Tiny ledgers for the dunning workflow tests, imported the way `arcollect import` imports a real one: CSV text
through the ledger importer, on a fixed day (so the importer's stamps and first next-action dates are the ones
the run would see). Each test names only what it is about; the rest defaults to a plain US customer."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.clock import clock_for
from shared.data.tables import CustomerRecord, InvoiceRecord
from shared.ledger.formats import COLUMNS, RecordKind
from shared.ledger.importer import build_importer
from shared.settings import runtime_settings


@dataclass(frozen=True)
class Customer:
    customer_id: str
    ap_email: str | None = None  # default: <customer_id>@example.com
    phone: str | None = None
    timezone: str = "America/New_York"
    country: str = "US"
    currency: str = "USD"
    legal_name: str | None = None

    def row(self) -> dict[str, str]:
        return {
            "customer_id": self.customer_id,
            "legal_name": self.legal_name or f"{self.customer_id.title()} Ltd",
            "country": self.country,
            "ap_email": self.ap_email or f"{self.customer_id.lower()}@example.com",
            "phone": self.phone or "",
            "timezone": self.timezone,
            "currency": self.currency,
            "terms_days": "30",
        }


@dataclass(frozen=True)
class Invoice:
    invoice_id: str
    customer_id: str
    issue_date: dt.date
    due_date: dt.date
    amount: str = "100.00"
    currency: str = "USD"
    number: str | None = None

    def row(self) -> dict[str, str]:
        return {
            "invoice_id": self.invoice_id,
            "customer_id": self.customer_id,
            "number": self.number or f"N-{self.invoice_id}",
            "issue_date": self.issue_date.isoformat(),
            "due_date": self.due_date.isoformat(),
            "currency": self.currency,
            "amount": self.amount,
        }


@dataclass(frozen=True)
class Payment:
    payment_id: str
    customer_id: str
    invoice_id: str
    paid_on: dt.date
    amount: str
    currency: str = "USD"

    def row(self) -> dict[str, str]:
        return {
            "payment_id": self.payment_id,
            "customer_id": self.customer_id,
            "invoice_id": self.invoice_id,
            "date": self.paid_on.isoformat(),
            "amount": self.amount,
            "currency": self.currency,
        }


def invoice_due(
    invoice_id: str, customer_id: str, due: dt.date, *, terms_days: int = 30, **more: str
) -> Invoice:
    """An invoice issued `terms_days` before it falls due."""
    return Invoice(invoice_id, customer_id, due - dt.timedelta(days=terms_days), due, **more)


def csv_bytes(kind: RecordKind, rows: Iterable[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS[kind]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode()


def import_ledger(
    day: dt.date,
    customers: Sequence[Customer] = (),
    invoices: Sequence[Invoice] = (),
    payments: Sequence[Payment] = (),
) -> None:
    """Import the rows as of `day`; every row must land (a test ledger with a rejected row is a broken test)."""
    importer = build_importer(runtime_settings(), clock_for(day))
    for kind, rows in (("customers", customers), ("invoices", invoices), ("payments", payments)):
        if not rows:
            continue
        report = importer.import_file(kind, csv_bytes(kind, (r.row() for r in rows)), source=f"test-{kind}.csv")
        assert report.ok, [str(p) for p in report.problems]


def invoice(invoice_id: str) -> InvoiceRecord:
    return InvoiceRecord.get(invoice_id, consistent_read=True)


def customer(customer_id: str) -> CustomerRecord:
    return CustomerRecord.get(customer_id, consistent_read=True)
