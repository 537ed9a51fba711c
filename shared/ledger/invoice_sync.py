"""Merging an imported invoice row into the stored invoice, and keeping its dunning index entry right."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared.data.tables import NEXT_ACTION_SHARDS, InvoiceRecord, shard_of
from shared.errors import ConflictError
from shared.ledger.balance import AppliedPayment, InvoiceFigures
from shared.ledger.rows import InvoiceRow

# Until the dunning planner has looked at an invoice, its first possible touch is this old (PRODUCT.md
# 1.3 rule 1); the planner moves the date on from there.
FIRST_TOUCH_MIN_AGE_DAYS = 14


@dataclass
class InvoiceMerge:
    record: InvoiceRecord
    created: bool
    changed: bool


def merge_invoice(row: InvoiceRow, existing: InvoiceRecord | None, now: datetime) -> InvoiceMerge:
    """`now` dates the ERP's balance: payments dated after it are ones that balance cannot count."""
    if existing is not None and existing.customer_id != row.customer_id:
        raise ConflictError(f"invoice {row.invoice_id} belongs to customer {existing.customer_id}")
    if existing is not None and existing.applied and existing.currency != row.currency:
        raise ConflictError(
            f"currency cannot change from {existing.currency} to {row.currency} once payments are applied"
        )
    record = existing or InvoiceRecord(row.invoice_id, customer_id=row.customer_id, created_at=now)
    before = record.serialize() if existing else None

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
    refresh_balance(record, paid_on=None)

    changed = before is None or record.serialize() != before
    if changed:
        record.updated_at = now
    return InvoiceMerge(record=record, created=existing is None, changed=changed)


def figures(record: InvoiceRecord) -> InvoiceFigures:
    return InvoiceFigures(
        invoice_id=record.invoice_id,
        amount_minor=int(record.amount_minor),
        erp_balance_minor=None if record.erp_balance_minor is None else int(record.erp_balance_minor),
        erp_balance_on=record.erp_balance_on,
        applied=tuple(
            AppliedPayment(p.payment_id, p.paid_on, int(p.amount_minor), p.source) for p in record.applied or []
        ),
    )


def refresh_balance(record: InvoiceRecord, paid_on: date | None) -> None:
    """Derive balance and status, and put the invoice in (or take it out of) the next-action index."""
    record.balance_minor = figures(record).balance_minor
    if record.balance_minor == 0:
        if record.status != "paid":
            record.paid_on = paid_on.isoformat() if paid_on else None
        record.status = "paid"
        record.next_action_shard = None
        record.next_action_date = None
        return
    record.status = "open"
    record.paid_on = None
    if record.next_action_date is None:
        first_touch = date.fromisoformat(record.issue_date) + timedelta(days=FIRST_TOUCH_MIN_AGE_DAYS)
        record.next_action_date = first_touch.isoformat()
    record.next_action_shard = shard_of(record.invoice_id, NEXT_ACTION_SHARDS)
