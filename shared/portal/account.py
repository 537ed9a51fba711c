"""What a signed-in customer reads: its profile, invoices, statement, documents and timeline — and nothing of
anyone else's. Every read starts from the session's customer id: invoices are read by id and answered as "not
found" unless they are that customer's, lists are queries on that customer's partition, and a paging cursor is
checked to name that customer before DynamoDB sees it.

Days past due are counted on the customer's own calendar day (its timezone)."""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from shared.data.tables import ActivityRecord, CustomerRecord, InvoiceRecord, PaymentAttemptRecord
from shared.dunning.state import primary_contact
from shared.dunning.window import local_date
from shared.errors import NotFoundError, ValidationError
from shared.money import from_minor
from shared.portal.models import (
    Activity,
    AppliedView,
    DisputeView,
    InvoiceDetail,
    InvoicePage,
    InvoiceStatusFilter,
    InvoiceSummary,
    PaymentView,
    Profile,
    PromiseView,
    Statement,
    StatementCurrency,
    StatementLineView,
    TimelinePage,
)
from shared.security.tin_vault import mask_tin

STATEMENT_LINES = 500
INVOICE_ACTIVITIES = 50
TIMELINE_WINDOW = 200
MAX_KEY_BYTES = 1024  # DynamoDB refuses hash keys over 2048 bytes; no ERP id comes near either
_CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]{1,1024}")
BAD_CURSOR = "the cursor is not one this API returned: pass its `next` value exactly as returned"


def customer_of(customer_id: str) -> CustomerRecord:
    try:
        return CustomerRecord.get(customer_id, consistent_read=True)
    except CustomerRecord.DoesNotExist:
        raise NotFoundError("Your account is not known any more.") from None


def today_for(customer: CustomerRecord, now: datetime) -> date:
    return local_date(now, customer.timezone or "UTC")


def _storable(key: str) -> bool:
    """Whether DynamoDB could hold `key` at all (a longer one is refused as a key: not found, never a 500)."""
    return 0 < len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES


def invoice_of(customer_id: str, invoice_id: str) -> InvoiceRecord:
    """The invoice, if it is this customer's; otherwise exactly the answer for an id that does not exist."""
    try:
        record = InvoiceRecord.get(invoice_id, consistent_read=True) if _storable(invoice_id) else None
    except InvoiceRecord.DoesNotExist:
        record = None
    if record is None or record.customer_id != customer_id:
        raise NotFoundError("No such invoice.")
    return record


def money(minor: float, currency: str) -> str:
    return str(from_minor(int(minor), currency))


# --- profile ---------------------------------------------------------------------------------------------


def profile(customer: CustomerRecord) -> Profile:
    contact = primary_contact(customer)
    return Profile(
        customer_id=customer.customer_id,
        legal_name=customer.legal_name,
        dba_name=customer.dba_name,
        tin_type=customer.tin_type,
        tin=mask_tin(customer.tin_last4),
        country=customer.country,
        ap_email=customer.ap_email or (contact.email if contact is not None else None),
        phone=next((c.phone for c in customer.contacts or [] if c.phone), None),
        timezone=customer.timezone or "UTC",
        currency=customer.currency,
        terms_days=int(customer.terms_days),
        onboarding_status=customer.onboarding_status,
        onboarding_reasons=list(customer.onboarding_reasons or []),
        email_state=contact.email_state if contact is not None else None,
        tin_check=customer.tin_check,
    )


# --- invoices --------------------------------------------------------------------------------------------


def _summary_fields(record: InvoiceRecord, today: date) -> dict[str, Any]:
    due = date.fromisoformat(record.due_date)
    open_ = int(record.balance_minor) > 0
    return {
        "invoice_id": record.invoice_id,
        "number": record.number,
        "po_number": record.po_number,
        "issue_date": date.fromisoformat(record.issue_date),
        "due_date": due,
        "currency": record.currency,
        "amount": money(record.amount_minor, record.currency),
        "balance": money(record.balance_minor, record.currency),
        "status": "open" if open_ else "paid",
        "days_past_due": max(0, (today - due).days) if open_ else 0,
        "paid_on": date.fromisoformat(record.paid_on[:10]) if record.paid_on else None,
        "disputed": bool(record.dispute_id),
        "promise_date": date.fromisoformat(record.promise_date[:10]) if record.promise_date else None,
    }


def invoice_summary(record: InvoiceRecord, today: date) -> InvoiceSummary:
    return InvoiceSummary(**_summary_fields(record, today))


def list_invoices(
    customer: CustomerRecord, status: InvoiceStatusFilter, limit: int, cursor: str | None, now: datetime
) -> InvoicePage:
    """A page of the customer's invoices by due date (oldest first)."""
    hash_value = customer.customer_id
    start = _decode_cursor(cursor, {"customer_id": hash_value}, ("invoice_id", "due_date"))
    condition = None
    if status is InvoiceStatusFilter.open:
        condition = InvoiceRecord.balance_minor > 0
    elif status is InvoiceStatusFilter.paid:
        condition = InvoiceRecord.balance_minor <= 0
    results = InvoiceRecord.customer_invoices_index.query(
        hash_value, filter_condition=condition, last_evaluated_key=start, page_size=max(limit, 25)
    )
    today = today_for(customer, now)
    records, more = _take(results, limit)
    last = records[-1] if records and more else None
    next_cursor = (
        _encode_cursor({"customer_id": hash_value, "due_date": last.due_date, "invoice_id": last.invoice_id})
        if last is not None
        else None
    )
    return InvoicePage(invoices=[invoice_summary(r, today) for r in records], next=next_cursor)


def _take(results: Iterator[Any], limit: int) -> tuple[list[Any], bool]:
    """Up to `limit` results and whether there is anything after them."""
    taken: list[Any] = []
    for item in results:
        if len(taken) == limit:
            return taken, True
        taken.append(item)
    return taken, False


def invoice_detail(customer: CustomerRecord, invoice_id: str, now: datetime) -> InvoiceDetail:
    record = invoice_of(customer.customer_id, invoice_id)
    today = today_for(customer, now)
    dispute = record.dispute or {}
    promise = record.promise or {}
    # Activities are keyed by customer, not invoice (one may name several invoices): the invoice's are found
    # among the customer's latest TIMELINE_WINDOW, so the cost is bounded whatever the length of the timeline.
    recent = ActivityRecord.query(customer.customer_id, scan_index_forward=False, limit=TIMELINE_WINDOW)
    activities = [a for a in recent if invoice_id in (a.invoice_ids or [])][:INVOICE_ACTIVITIES]
    return InvoiceDetail(
        **_summary_fields(record, today),
        applied=[
            AppliedView(
                kind=a.kind or "payment",
                reference=a.payment_id,
                on=date.fromisoformat(a.paid_on[:10]),
                amount=money(a.amount_minor, record.currency),
            )
            for a in record.applied or []
        ],
        dispute=DisputeView(
            dispute_id=record.dispute_id,
            reason=str(dispute.get("reason") or "other"),
            amount=_optional_money(dispute.get("amount_minor"), record.currency),
            opened_on=date.fromisoformat(str(dispute.get("opened_on") or record.updated_at.date().isoformat())),
        )
        if record.dispute_id
        else None,
        promise=PromiseView(
            date=date.fromisoformat(record.promise_date[:10]),
            amount=_optional_money(promise.get("amount_minor"), record.currency),
            made_on=date.fromisoformat(str(promise.get("made_on") or record.updated_at.date().isoformat())),
        )
        if record.promise_date
        else None,
        activities=[activity_view(a) for a in activities],
    )


def _optional_money(minor: Any, currency: str) -> str | None:
    return money(int(minor), currency) if minor is not None else None


def open_invoices(customer_id: str, limit: int = STATEMENT_LINES) -> list[InvoiceRecord]:
    results = InvoiceRecord.customer_invoices_index.query(customer_id, filter_condition=InvoiceRecord.balance_minor > 0)
    return _take(results, limit)[0]


# --- statement -------------------------------------------------------------------------------------------


def statement(customer: CustomerRecord, now: datetime) -> Statement:
    from shared.documents.pdf import AGING_BUCKETS, aging_bucket

    today = today_for(customer, now)
    by_currency: dict[str, list[InvoiceRecord]] = defaultdict(list)
    for record in open_invoices(customer.customer_id):
        by_currency[record.currency].append(record)
    credits = customer.credit_balances()
    sections = []
    for currency in sorted(set(by_currency) | {c for c, m in credits.items() if m}):
        lines = by_currency.get(currency, [])
        buckets = dict.fromkeys(AGING_BUCKETS, 0)
        for line in lines:
            buckets[aging_bucket((today - date.fromisoformat(line.due_date)).days)] += int(line.balance_minor)
        sections.append(
            StatementCurrency(
                currency=currency,
                open_balance=money(sum(int(r.balance_minor) for r in lines), currency),
                credit=money(credits.get(currency, 0), currency),
                aging={bucket: money(amount, currency) for bucket, amount in buckets.items()},
                lines=[
                    StatementLineView(
                        invoice_id=r.invoice_id,
                        number=r.number,
                        issue_date=date.fromisoformat(r.issue_date),
                        due_date=date.fromisoformat(r.due_date),
                        amount=money(r.amount_minor, currency),
                        balance=money(r.balance_minor, currency),
                        days_past_due=max(0, (today - date.fromisoformat(r.due_date)).days),
                    )
                    for r in lines
                ],
            )
        )
    return Statement(customer_id=customer.customer_id, as_of=today, currencies=sections)


# --- documents -------------------------------------------------------------------------------------------


def invoice_pdf_of(customer: CustomerRecord, invoice_id: str, seller_name: str, now: datetime) -> tuple[str, bytes]:
    """(file name, PDF bytes) of the invoice's copy, as the reminders attach it."""
    from shared.documents.names import customer_name
    from shared.documents.pdf import Party, invoice_file_name, invoice_pdf
    from shared.documents.records import invoice_document

    record = invoice_of(customer.customer_id, invoice_id)
    buyer = Party(customer_name(customer), email=customer.ap_email)
    document = invoice_document(record, Party(seller_name), buyer, today_for(customer, now))
    return invoice_file_name(record.number, record.invoice_id), invoice_pdf(document)


def statement_pdf_of(customer: CustomerRecord, seller_name: str, now: datetime) -> tuple[str, bytes]:
    from shared.documents.names import customer_name
    from shared.documents.pdf import Party, statement_file_name, statement_pdf
    from shared.documents.records import statement_document

    day = today_for(customer, now)
    buyer = Party(customer_name(customer), email=customer.ap_email)
    document = statement_document(customer, open_invoices(customer.customer_id), Party(seller_name), buyer, day)
    return statement_file_name(day), statement_pdf(document)


# --- timeline and payments -------------------------------------------------------------------------------


def activity_view(record: ActivityRecord) -> Activity:
    details = record.details if isinstance(record.details, Mapping) else {}
    text = details.get("text")
    return Activity(
        activity_id=record.activity_key,
        occurred_at=record.occurred_at,
        kind=record.kind,
        summary=record.summary,
        invoice_ids=list(record.invoice_ids or []),
        actor=record.actor if record.actor in ("customer", "system") else "staff",
        text=str(text) if text is not None else None,
    )


def timeline(customer_id: str, limit: int, cursor: str | None) -> TimelinePage:
    start = _decode_cursor(cursor, {"customer_id": customer_id}, ("activity_key",))
    results = ActivityRecord.query(customer_id, scan_index_forward=False, last_evaluated_key=start, page_size=limit)
    records, more = _take(results, limit)
    last = records[-1] if records and more else None
    next_cursor = _encode_cursor({"customer_id": customer_id, "activity_key": last.activity_key}) if last else None
    return TimelinePage(activities=[activity_view(r) for r in records], next=next_cursor)


def payment_of(customer_id: str, payment_id: str) -> PaymentView:
    try:
        attempt = PaymentAttemptRecord.get(payment_id, consistent_read=True) if _storable(payment_id) else None
    except PaymentAttemptRecord.DoesNotExist:
        attempt = None
    if attempt is None or attempt.customer_id != customer_id:
        raise NotFoundError("No such payment.")
    return PaymentView(
        payment_id=attempt.attempt_id,
        status=attempt.status,
        invoice_ids=list(attempt.invoice_ids),
        currency=attempt.currency,
        amount=money(attempt.amount_minor, attempt.currency),
        created_at=attempt.created_at,
    )


# --- cursors ---------------------------------------------------------------------------------------------


def _encode_cursor(key: Mapping[str, str]) -> str:
    raw = json.dumps({name: {"S": value} for name, value in key.items()}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(
    cursor: str | None, fixed: Mapping[str, str], free: tuple[str, ...]
) -> dict[str, dict[str, str]] | None:
    """The key a cursor carries, checked to be exactly a key of this customer's listing: a cursor is user input,
    and one naming another customer (or anything DynamoDB would refuse) is a 422, never a read."""
    if cursor is None:
        return None
    if not _CURSOR_CHARS.fullmatch(cursor):
        raise ValidationError(BAD_CURSOR)
    try:
        key: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, RecursionError):
        raise ValidationError(BAD_CURSOR) from None
    if not isinstance(key, dict) or set(key) != set(fixed) | set(free):
        raise ValidationError(BAD_CURSOR)
    values = {}
    for name, value in key.items():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str) and value["S"]):
            raise ValidationError(BAD_CURSOR)
        if len(value["S"]) > 256:
            raise ValidationError(BAD_CURSOR)
        values[name] = value["S"]
    if any(values[name] != expected for name, expected in fixed.items()):
        raise ValidationError(BAD_CURSOR)
    return {name: {"S": value} for name, value in values.items()}
