"""Turning an imported payment row into the records one transaction writes: the payment with its
allocations, the invoices it reduces, the customer's credit for what is left, and the timeline entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.data.tables import (
    ActivityRecord,
    AllocationMap,
    AppliedPaymentMap,
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
)
from shared.errors import ConflictError
from shared.ledger.balance import allocate
from shared.ledger.invoice_sync import figures, refresh_balance
from shared.ledger.rows import PaymentRow
from shared.money import format_money


@dataclass
class PaymentPlan:
    payment: PaymentRecord
    invoices: list[InvoiceRecord]
    customer: CustomerRecord | None  # set only when the payment leaves a credit
    activity: ActivityRecord


def same_payment(row: PaymentRow, stored: PaymentRecord) -> bool:
    return (
        stored.customer_id == row.customer_id
        and stored.paid_on == row.paid_on.isoformat()
        and stored.currency == row.currency
        and int(stored.amount_minor) == row.amount_minor
        and (row.invoice_id is None or any(a.invoice_id == row.invoice_id for a in stored.allocations))
    )


def plan_payment(
    row: PaymentRow, candidates: list[InvoiceRecord], customer: CustomerRecord, now: datetime
) -> PaymentPlan:
    """`candidates` are the invoices to pay in order: the named one, or the customer's open invoices in the
    payment's currency, oldest due first."""
    for invoice in candidates:
        if invoice.customer_id != row.customer_id:
            raise ConflictError(f"invoice {invoice.invoice_id} belongs to customer {invoice.customer_id}")
        if invoice.currency != row.currency:
            raise ConflictError(
                f"the payment is in {row.currency} but invoice {invoice.invoice_id} is in {invoice.currency}"
            )
    allocations, unapplied = allocate(
        row.amount_minor, [figures(i) for i in candidates], named=row.invoice_id is not None
    )
    by_id = {i.invoice_id: i for i in candidates}
    touched = []
    for allocation in allocations:
        invoice = by_id[allocation.invoice_id]
        invoice.applied = [
            *(invoice.applied or []),
            AppliedPaymentMap(
                payment_id=row.payment_id,
                paid_on=row.paid_on.isoformat(),
                amount_minor=allocation.amount_minor,
                source="erp",
            ),
        ]
        refresh_balance(invoice, paid_on=row.paid_on)
        invoice.updated_at = now
        touched.append(invoice)

    credited = None
    if unapplied:
        credit = customer.credit_balances()
        credit[row.currency] = int(credit.get(row.currency, 0)) + unapplied
        customer.credit_minor = credit
        customer.updated_at = now
        credited = customer

    payment = PaymentRecord(
        row.payment_id,
        customer_id=row.customer_id,
        paid_on=row.paid_on.isoformat(),
        currency=row.currency,
        amount_minor=row.amount_minor,
        method=row.method,
        source="erp",
        status="settled",
        allocations=[AllocationMap(invoice_id=a.invoice_id, amount_minor=a.amount_minor) for a in allocations],
        unapplied_minor=unapplied,
        created_at=now,
    )
    summary = f"Payment {row.payment_id} of {format_money(row.amount_minor, row.currency)}"
    if unapplied:
        summary += f"; {format_money(unapplied, row.currency)} kept as credit"
    activity = ActivityRecord(
        row.customer_id,
        f"{row.paid_on.isoformat()}T00:00:00Z#payment#{row.payment_id}",
        kind="payment",
        invoice_ids=[a.invoice_id for a in allocations],
        summary=summary,
        details={"payment_id": row.payment_id, "method": row.method, "source": "erp"},
        occurred_at=now,
    )
    return PaymentPlan(payment=payment, invoices=touched, customer=credited, activity=activity)
