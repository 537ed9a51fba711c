"""Reading customer accounts. Each customer costs one query on its invoices (the customer_invoices index),
never a scan of the invoice table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from shared.accounts.views import (
    ActivityView,
    ContactView,
    CustomerDetail,
    CustomerSummary,
    InvoiceView,
    MoneyByCurrency,
)
from shared.data.tables import ActivityRecord, CustomerRecord, InvoiceRecord
from shared.errors import NotFoundError
from shared.money import from_minor
from shared.security.tin_vault import mask_tin

TIMELINE_LIMIT = 50


def list_customers(limit: int = 100, start_after: str | None = None) -> list[CustomerSummary]:
    """Staff listing, a page at a time (`start_after`: the last id of the previous page). This is the one
    scan in arcollect, on a staff-only path; nothing customer-facing or scheduled lists all customers."""
    last_key = {"customer_id": {"S": start_after}} if start_after else None
    customers = CustomerRecord.scan(limit=limit, last_evaluated_key=last_key)
    page = sorted(customers, key=lambda c: c.customer_id)
    return [_summary(c, _invoices_of(c.customer_id)) for c in page]


def customer_detail(customer_id: str, today: date) -> CustomerDetail:
    try:
        customer = CustomerRecord.get(customer_id, consistent_read=True)
    except CustomerRecord.DoesNotExist as exc:
        raise NotFoundError(f"customer {customer_id} is not known") from exc
    invoices = _invoices_of(customer_id)
    timeline = ActivityRecord.query(customer_id, scan_index_forward=False, limit=TIMELINE_LIMIT)
    summary = _summary(customer, invoices)
    return CustomerDetail(
        **summary.model_dump(),
        dba_name=customer.dba_name,
        country=customer.country,
        tin_type=customer.tin_type,
        tin=mask_tin(customer.tin_last4),
        ap_email=customer.ap_email,
        contacts=[
            ContactView(contact_id=c.contact_id, role=c.role, email=c.email, phone=c.phone, email_state=c.email_state)
            for c in customer.contacts
        ],
        onboarding_reasons=list(customer.onboarding_reasons),
        timezone=customer.timezone,
        currency=customer.currency,
        terms_days=int(customer.terms_days),
        invoices=[_invoice_view(i, today) for i in invoices],
        timeline=[
            ActivityView(
                occurred_at=a.occurred_at,
                kind=a.kind,
                summary=a.summary,
                invoice_ids=list(a.invoice_ids),
                actor=a.actor,
            )
            for a in timeline
        ],
    )


def _invoices_of(customer_id: str) -> list[InvoiceRecord]:
    return list(InvoiceRecord.customer_invoices_index.query(customer_id))


def _summary(customer: CustomerRecord, invoices: Iterable[InvoiceRecord]) -> CustomerSummary:
    open_minor: dict[str, int] = defaultdict(int)
    open_count = 0
    oldest: str | None = None
    for invoice in invoices:
        if invoice.balance_minor > 0:
            open_minor[invoice.currency] += int(invoice.balance_minor)
            open_count += 1
            oldest = min(oldest or invoice.due_date, invoice.due_date)
    return CustomerSummary(
        customer_id=customer.customer_id,
        legal_name=customer.legal_name,
        onboarding_status=customer.onboarding_status,
        segment=customer.segment,
        open_balance=_money(open_minor),
        credit_balance=_money(customer.credit_balances()),
        open_invoices=open_count,
        oldest_due_date=date.fromisoformat(oldest) if oldest else None,
    )


def _money(minor_by_currency: dict[str, int]) -> MoneyByCurrency:
    return {cur: str(from_minor(amount, cur)) for cur, amount in sorted(minor_by_currency.items()) if amount}


def _invoice_view(invoice: InvoiceRecord, today: date) -> InvoiceView:
    due = date.fromisoformat(invoice.due_date)
    open_ = invoice.balance_minor > 0
    return InvoiceView(
        invoice_id=invoice.invoice_id,
        number=invoice.number,
        issue_date=date.fromisoformat(invoice.issue_date),
        due_date=due,
        currency=invoice.currency,
        amount=str(from_minor(int(invoice.amount_minor), invoice.currency)),
        balance=str(from_minor(int(invoice.balance_minor), invoice.currency)),
        status=invoice.status,
        days_past_due=max(0, (today - due).days) if open_ else 0,
        paid_on=date.fromisoformat(invoice.paid_on) if invoice.paid_on else None,
        next_action_date=date.fromisoformat(invoice.next_action_date) if invoice.next_action_date else None,
    )
