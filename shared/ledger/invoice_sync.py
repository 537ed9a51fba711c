"""Merging an imported invoice row into the stored invoice. Only the ERP's own fields are set here; the
balance, status and dunning index entry are derived by the customer's ledger (customer_ledger.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.data.tables import InvoiceRecord
from shared.errors import ConflictError
from shared.ledger.rows import InvoiceRow


@dataclass
class InvoiceMerge:
    record: InvoiceRecord
    created: bool
    changed: bool


def merge_invoice(row: InvoiceRow, existing: InvoiceRecord | None, now: datetime) -> InvoiceMerge:
    """`now` dates the ERP's balance: payments dated after it are ones that balance cannot count."""
    if existing is not None and existing.customer_id != row.customer_id:
        raise ConflictError(f"invoice {row.invoice_id} belongs to customer {existing.customer_id}")
    record = existing or InvoiceRecord(row.invoice_id, customer_id=row.customer_id, created_at=now, updated_at=now)
    before = record.serialize(null_check=False) if existing else None

    record.issue_date = row.issue_date.isoformat()
    record.due_date = row.due_date.isoformat()
    record.currency = row.currency
    record.amount_minor = row.amount_minor
    if row.number is not None:
        record.number = row.number
    if row.po_number is not None:
        record.po_number = row.po_number
    if row.balance_minor is not None and row.balance_minor != record.erp_balance_minor:
        # Dated only when it changes, so importing the same file again changes nothing.
        record.erp_balance_minor = row.balance_minor
        record.erp_balance_on = now.date().isoformat()

    changed = before is None or record.serialize(null_check=False) != before
    if changed:
        record.updated_at = now
    return InvoiceMerge(record=record, created=existing is None, changed=changed)
