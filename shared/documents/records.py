"""Stored invoices and customers as the documents `shared.documents.pdf` prints: the invoice copy and the
account statement a reminder attaches are the ones the portal serves, built in one place."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from shared.data.tables import CustomerRecord, InvoiceRecord
from shared.documents.pdf import AppliedAmount, InvoiceDocument, Party, StatementDocument, StatementLine


def invoice_document(record: InvoiceRecord, seller: Party, buyer: Party, day: date) -> InvoiceDocument:
    return InvoiceDocument(
        seller=seller,
        customer=buyer,
        customer_id=record.customer_id,
        invoice_id=record.invoice_id,
        number=record.number,
        issue_date=date.fromisoformat(record.issue_date),
        due_date=date.fromisoformat(record.due_date),
        currency=record.currency,
        amount_minor=int(record.amount_minor),
        balance_minor=int(record.balance_minor),
        as_of=day,
        po_number=record.po_number,
        applied=tuple(
            AppliedAmount(
                on=date.fromisoformat(a.paid_on[:10]),
                reference=a.payment_id,
                amount_minor=int(a.amount_minor),
                kind=a.kind or "payment",
            )
            for a in record.applied or []
        ),
    )


def statement_lines(records: Iterable[InvoiceRecord]) -> tuple[StatementLine, ...]:
    return tuple(
        StatementLine(
            invoice_id=r.invoice_id,
            number=r.number,
            issue_date=date.fromisoformat(r.issue_date),
            due_date=date.fromisoformat(r.due_date),
            currency=r.currency,
            amount_minor=int(r.amount_minor),
            balance_minor=int(r.balance_minor),
        )
        for r in records
    )


def statement_document(
    customer: CustomerRecord, open_records: Iterable[InvoiceRecord], seller: Party, buyer: Party, day: date
) -> StatementDocument:
    credits = tuple(sorted((c, m) for c, m in customer.credit_balances().items() if m))
    return StatementDocument(
        seller=seller,
        customer=buyer,
        customer_id=customer.customer_id,
        as_of=day,
        lines=statement_lines(open_records),
        credits=credits,
    )
