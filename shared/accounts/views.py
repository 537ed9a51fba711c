"""What a customer account looks like to its readers (CLI JSON, staff API). Money is a decimal string per
currency, never a float."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

MoneyByCurrency = dict[str, str]


class InvoiceView(BaseModel):
    invoice_id: str
    number: str | None
    issue_date: date
    due_date: date
    currency: str
    amount: str
    balance: str
    status: str
    days_past_due: int
    paid_on: date | None
    next_action_date: date | None


class ActivityView(BaseModel):
    occurred_at: datetime
    kind: str
    summary: str
    invoice_ids: list[str]
    actor: str


class ContactView(BaseModel):
    contact_id: str
    role: str
    email: str | None
    phone: str | None
    email_state: str


class CustomerSummary(BaseModel):
    customer_id: str
    legal_name: str | None
    onboarding_status: str
    segment: str
    open_balance: MoneyByCurrency
    credit_balance: MoneyByCurrency
    open_invoices: int


class CustomerPage(BaseModel):
    """One page of `customers list`; `next` is the opaque cursor of the following page, None at the end."""

    customers: list[CustomerSummary]
    next: str | None


class CustomerDetail(CustomerSummary):
    oldest_due_date: date | None
    dba_name: str | None
    country: str | None
    tin_type: str | None
    tin: str | None  # masked: last four only
    ap_email: str | None
    contacts: list[ContactView]
    onboarding_reasons: list[str]
    tin_check: str | None = None  # how far the TIN was checked: format_valid | document_verified | externally_matched
    invitations_sent: int = 0
    onboarding_due: str | None = None  # "<action> at <UTC instant>": the sweep's next onboarding work
    onboarding_history: list[ActivityView] = []
    timezone: str
    currency: str
    terms_days: int
    invoices: list[InvoiceView]
    timeline: list[ActivityView]
