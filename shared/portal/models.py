"""What the portal API accepts and answers, one pydantic model per body: the routes declare them, so Powertools
validates every request against them and the OpenAPI document describes every route from them.

Requests forbid unknown fields (a typo is a 422, not silently ignored) and bound every string and list, so no
request can make the function store or render an unbounded value. Money travels as decimal strings.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

MAX_TEXT = 2000
MAX_ID = 128
PAGE_MAX = 100
PAGE_DEFAULT = 50
MAX_PAYMENT_INVOICES = 50

Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID)]
Amount = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[0-9]+(\.[0-9]+)?$"),
]


def _no_control_characters(value: str) -> str:
    """Stored text is read on terminals and in emails: line breaks and tabs yes, other control characters no."""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in value):
        raise ValueError("control characters are not allowed (line breaks and tabs are)")
    return value


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT),
    AfterValidator(_no_control_characters),
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- access ----------------------------------------------------------------------------------------------


class SessionRequest(Request):
    link_token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class SessionResponse(BaseModel):
    session_token: str
    expires_at: datetime
    customer_id: str


class LinkRequest(Request):
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]


class Accepted(BaseModel):
    status: str = "accepted"
    message: str


# --- profile ---------------------------------------------------------------------------------------------


class Profile(BaseModel):
    customer_id: str
    legal_name: str | None
    dba_name: str | None
    tin_type: str | None
    tin: str | None = Field(description="Masked: only the last four characters are ever shown")
    country: str | None
    ap_email: str | None
    phone: str | None
    timezone: str
    currency: str
    terms_days: int
    onboarding_status: str
    onboarding_reasons: list[str]
    email_state: str | None
    tin_check: str | None = Field(
        default=None,
        description="How far the TIN was checked: format_valid, document_verified or externally_matched",
    )


class TinType(StrEnum):
    ein = "ein"
    ssn = "ssn"
    itin = "itin"
    eu_vat = "eu_vat"
    gb_vat = "gb_vat"
    gb_utr = "gb_utr"
    ca_bn = "ca_bn"


class ProfileUpdate(Request):
    """The master data a customer gives (customers.csv's names). Absent fields are left as they are."""

    legal_name: ShortText | None = None
    dba_name: ShortText | None = None
    tin_type: TinType | None = None
    tin: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None
    country: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$")] | None = None
    ap_email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)] | None = None
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None


# --- invoices --------------------------------------------------------------------------------------------


class InvoiceStatusFilter(StrEnum):
    open = "open"
    paid = "paid"
    all = "all"


class InvoiceSummary(BaseModel):
    invoice_id: str
    number: str | None
    po_number: str | None
    issue_date: date
    due_date: date
    currency: str
    amount: str
    balance: str
    status: str
    days_past_due: int
    paid_on: date | None
    disputed: bool
    promise_date: date | None


class InvoicePage(BaseModel):
    invoices: list[InvoiceSummary]
    next: str | None = Field(description="Cursor of the next page; null on the last")


class AppliedView(BaseModel):
    kind: str
    reference: str
    on: date
    amount: str


class DisputeView(BaseModel):
    dispute_id: str
    reason: str
    amount: str | None
    opened_on: date


class PromiseView(BaseModel):
    date: dt.date
    amount: str | None
    made_on: dt.date


class Activity(BaseModel):
    activity_id: str
    occurred_at: datetime
    kind: str
    summary: str
    invoice_ids: list[str]
    actor: str
    text: str | None = None


class InvoiceDetail(InvoiceSummary):
    applied: list[AppliedView]
    dispute: DisputeView | None
    promise: PromiseView | None
    activities: list[Activity]


class TimelinePage(BaseModel):
    activities: list[Activity]
    next: str | None


# --- statement -------------------------------------------------------------------------------------------


class StatementLineView(BaseModel):
    invoice_id: str
    number: str | None
    issue_date: date
    due_date: date
    amount: str
    balance: str
    days_past_due: int


class StatementCurrency(BaseModel):
    currency: str
    open_balance: str
    credit: str
    aging: dict[str, str] = Field(description="Open balance by days past due: current, 1-30, 31-60, 61-90, 90+")
    lines: list[StatementLineView]


class Statement(BaseModel):
    customer_id: str
    as_of: date
    currencies: list[StatementCurrency]


# --- actions ---------------------------------------------------------------------------------------------


class NoteRequest(Request):
    text: Text


class DisputeReason(StrEnum):
    wrong_amount = "wrong_amount"
    not_received = "not_received"
    damaged_or_defective = "damaged_or_defective"
    duplicate = "duplicate"
    already_paid = "already_paid"
    credit_due = "credit_due"
    other = "other"


class DisputeRequest(Request):
    reason: DisputeReason
    amount: Amount | None = None
    text: Text | None = None


class DisputeOpened(BaseModel):
    dispute_id: str
    invoice_id: str
    reason: str
    amount: str | None
    text: str | None
    opened_on: date
    task_id: str


class PromiseRequest(Request):
    date: dt.date
    amount: Amount | None = None


class PromiseMade(BaseModel):
    promise_id: str
    invoice_id: str
    date: dt.date
    amount: str | None
    made_on: dt.date
    dunning_resumes_on: dt.date


class PaymentRequest(Request):
    invoice_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_PAYMENT_INVOICES)]


class PaymentStarted(BaseModel):
    payment_id: str
    checkout_url: str


class PaymentView(BaseModel):
    payment_id: str
    status: str
    invoice_ids: list[str]
    currency: str
    amount: str
    created_at: datetime
