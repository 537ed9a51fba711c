"""Reading customer accounts. A list page costs only its scan requests: each customer's open balance and
count of open invoices are read from the customer item, where the ledger keeps them in the same writes that
change invoice balances. One customer's detail costs one query on its invoices (the customer_invoices
index), never a scan of the invoice table."""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from shared.accounts.views import (
    ActivityView,
    ContactView,
    CustomerDetail,
    CustomerPage,
    CustomerSummary,
    InvoiceView,
    MoneyByCurrency,
)
from shared.data.tables import ActivityRecord, CustomerRecord, InvoiceRecord
from shared.errors import NotFoundError, ValidationError
from shared.money import from_minor
from shared.security.tin_vault import mask_tin

TIMELINE_LIMIT = 50
# A real cursor is a key of one customer id: far shorter. Anything longer is not worth decoding.
CURSOR_MAX_CHARS = 2048
_CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]+")
BAD_CURSOR = "the cursor is not one `customers list` printed: pass its `next` value exactly as printed"

Key = dict[str, dict[str, str]]


def list_customers(limit: int = 100, after: str | None = None) -> CustomerPage:
    """Staff listing, a page at a time; `after` is the `next` cursor of the previous page. This is the one
    scan in arcollect, on a staff-only path; nothing customer-facing or scheduled lists all customers.

    The cursor is DynamoDB's own LastEvaluatedKey: a scan returns items in hash order, so "after the last id
    of a sorted page" would skip and repeat customers. Each page is sorted by id only for its reader."""
    scan = CustomerRecord.scan(limit=limit, last_evaluated_key=decode_cursor(after))
    page = sorted(scan, key=lambda c: c.customer_id)
    return CustomerPage(customers=[_summary(c) for c in page], next=encode_cursor(scan.last_evaluated_key))


def encode_cursor(key: Key | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> Key | None:
    """The key a cursor carries, checked to be exactly a customer key: a cursor is user input."""
    if cursor is None:
        return None
    if len(cursor) > CURSOR_MAX_CHARS or not _CURSOR_CHARS.fullmatch(cursor):
        raise ValidationError(BAD_CURSOR)
    try:
        key: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, RecursionError) as exc:  # binascii, Unicode and JSON errors are all ValueErrors
        raise ValidationError(BAD_CURSOR) from exc
    hash_key = CustomerRecord.customer_id.attr_name
    if not (isinstance(key, dict) and set(key) == {hash_key}):
        raise ValidationError(BAD_CURSOR)
    value = key[hash_key]
    if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str) and value["S"]):
        raise ValidationError(BAD_CURSOR)
    return {hash_key: {"S": value["S"]}}


def customer_detail(customer_id: str, today: date) -> CustomerDetail:
    try:
        customer = CustomerRecord.get(customer_id, consistent_read=True)
    except CustomerRecord.DoesNotExist as exc:
        raise NotFoundError(f"customer {customer_id} is not known") from exc
    invoices = _invoices_of(customer_id)
    timeline = ActivityRecord.query(customer_id, scan_index_forward=False, limit=TIMELINE_LIMIT)
    # The detail sums the invoices it shows, so its balance always agrees with its own invoice table.
    open_minor: dict[str, int] = defaultdict(int)
    open_invoices = [i for i in invoices if i.balance_minor > 0]
    for invoice in open_invoices:
        open_minor[invoice.currency] += int(invoice.balance_minor)
    summary = _summary(customer).model_copy(
        update={"open_balance": _money(open_minor), "open_invoices": len(open_invoices)}
    )
    return CustomerDetail(
        **summary.model_dump(),
        oldest_due_date=min((date.fromisoformat(i.due_date) for i in open_invoices), default=None),
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
        tin_check=customer.tin_check,
        invitations_sent=int(customer.invitations_sent or 0),
        onboarding_due=(
            f"{customer.onboarding_due_action} at {customer.onboarding_due_at}" if customer.onboarding_due_at else None
        ),
        onboarding_history=[_activity_view(a) for a in _onboarding_history(customer_id)],
        timezone=customer.timezone,
        currency=customer.currency,
        terms_days=int(customer.terms_days),
        invoices=[_invoice_view(i, today, customer.timezone or "UTC") for i in invoices],
        timeline=[_activity_view(a) for a in timeline],
    )


def _activity_view(a: ActivityRecord) -> ActivityView:
    return ActivityView(
        occurred_at=a.occurred_at, kind=a.kind, summary=a.summary, invoice_ids=list(a.invoice_ids), actor=a.actor
    )


ONBOARDING_HISTORY_LIMIT = 50


def _onboarding_history(customer_id: str) -> list[ActivityRecord]:
    """The customer's onboarding activities, newest first (the timeline's latest page may hold none of them)."""
    found = ActivityRecord.query(
        customer_id, scan_index_forward=False, filter_condition=ActivityRecord.kind == "onboarding", page_size=200
    )
    history = []
    for activity in found:
        history.append(activity)
        if len(history) >= ONBOARDING_HISTORY_LIMIT:
            break
    return history


def _invoices_of(customer_id: str) -> list[InvoiceRecord]:
    return list(InvoiceRecord.customer_invoices_index.query(customer_id))


def _summary(customer: CustomerRecord) -> CustomerSummary:
    return CustomerSummary(
        customer_id=customer.customer_id,
        legal_name=customer.legal_name,
        onboarding_status=customer.onboarding_status,
        segment=customer.segment,
        open_balance=_money(customer.open_balances()),
        credit_balance=_money(customer.credit_balances()),
        open_invoices=int(customer.open_invoices or 0),
    )


def _money(minor_by_currency: dict[str, int]) -> MoneyByCurrency:
    return {cur: str(from_minor(amount, cur)) for cur, amount in sorted(minor_by_currency.items()) if amount}


def next_action_day(value: str | None, timezone: str) -> date | None:
    """The customer's local day of the next planned touch: the index holds the UTC instant its send window
    opens (or, before the planner first saw the invoice, a bare date)."""
    if not value:
        return None
    if len(value) == 10:
        return date.fromisoformat(value)
    from shared.dunning.window import local_date

    return local_date(datetime.fromisoformat(value.replace("Z", "+00:00")), timezone)


def _invoice_view(invoice: InvoiceRecord, today: date, timezone: str = "UTC") -> InvoiceView:
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
        next_action_date=next_action_day(invoice.next_action_date, timezone),
    )
