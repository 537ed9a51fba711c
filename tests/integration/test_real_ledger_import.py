"""The real public AR sample (IBM Watson "Accounts Receivable", beside the repo in ../shared/data, never
copied into it) imports through the shipped column map, and importing it again changes nothing."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from shared.data.tables import CustomerRecord, InvoiceRecord, PaymentRecord
from shared.ledger.column_map import ColumnMap
from shared.ledger.importer import LedgerImporter

REPO = Path(__file__).parents[2]
SAMPLE = REPO.parent / "shared" / "data" / "WA_Fn-UseC_-Accounts-Receivable.csv"
MAP = (REPO / "maps" / "ibm-watson-ar.yaml").read_text()

pytestmark = pytest.mark.skipif(
    not SAMPLE.exists(), reason=f"the public AR sample is read from {SAMPLE}, which this checkout does not have"
)


def test_the_watson_sample_imports_whole_and_settles_every_invoice(importer: LedgerImporter) -> None:
    data = SAMPLE.read_bytes()
    with SAMPLE.open(newline="") as handle:
        rows = list(csv.DictReader(handle))

    reports = {
        kind: importer.import_file(kind, data, source=SAMPLE.name, column_map=ColumnMap.from_yaml(MAP, kind))
        for kind in ("customers", "invoices", "payments")
    }

    assert all(r.rejected == 0 for r in reports.values()), [str(p) for r in reports.values() for p in r.problems[:5]]
    assert reports["customers"].created == len({r["customerID"] for r in rows}) == 100
    assert reports["invoices"].created == len(rows) == 2466
    assert reports["payments"].created == len(rows)
    invoices = list(InvoiceRecord.scan())
    assert all(i.status == "paid" and i.balance_minor == 0 for i in invoices)
    total = sum(Decimal(r["InvoiceAmount"]) for r in rows)
    assert sum(i.amount_minor for i in invoices) == int(total * 100)
    assert sum(p.amount_minor for p in PaymentRecord.scan()) == int(total * 100)
    # No AP emails in that export: every customer waits for one, with the reason said once per customer.
    assert {c.onboarding_status for c in CustomerRecord.scan()} == {"needs_attention"}
    assert reports["customers"].warnings == 100

    again = {
        kind: importer.import_file(kind, data, source=SAMPLE.name, column_map=ColumnMap.from_yaml(MAP, kind))
        for kind in ("customers", "invoices", "payments")
    }
    assert [(r.created, r.updated, r.rejected) for r in again.values()] == [(0, 0, 0)] * 3
    assert again["payments"].unchanged == len(rows)
