"""One CSV row → one validated import record, or a ValidationError whose message is the reason shown
to the user (`line N: reason`). Values that cannot be stored reject the row; master data that can be
stored but fails a check (a bad AP email, a malformed TIN) is accepted and reported as a warning.

The rows are plain dataclasses, not pydantic models: every field is checked here by hand for the exact
reason to show, and the ingest Lambda's cold start does not pay for three more model classes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import ValidationError
from shared.money import normalise_currency, parse_amount, to_minor

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
MAX_TERMS_DAYS = 365


@dataclass(frozen=True, slots=True)
class CustomerRow:
    customer_id: str
    legal_name: str | None
    dba_name: str | None
    tin_type: str | None
    tin: str | None
    country: str | None
    ap_email: str | None
    phone: str | None
    timezone: str | None
    segment: str | None
    currency: str | None
    terms_days: int | None


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    invoice_id: str
    customer_id: str
    number: str | None
    issue_date: date
    due_date: date
    currency: str
    amount_minor: int
    balance_minor: int | None
    po_number: str | None


@dataclass(frozen=True, slots=True)
class PaymentRow:
    payment_id: str
    customer_id: str
    invoice_id: str | None
    paid_on: date
    currency: str
    amount_minor: int
    method: str | None


def _text(row: Mapping[str, str], column: str) -> str | None:
    value = row.get(column, "").strip()
    return value or None


def _required(row: Mapping[str, str], column: str) -> str:
    value = _text(row, column)
    if value is None:
        raise ValidationError(f"{column} is required")
    return value


def _identifier(row: Mapping[str, str], column: str) -> str:
    value = _required(row, column)
    if len(value) > 128 or "#" in value:
        raise ValidationError(f"{column} {value!r} must be at most 128 characters without '#'")
    return value


def _date(row: Mapping[str, str], column: str) -> date:
    value = _required(row, column)
    if not _ISO_DATE.match(value):
        raise ValidationError(f"{column} {value!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{column} {value!r} is not a real date") from exc


def _money(row: Mapping[str, str], column: str, currency: str, *, required: bool) -> int | None:
    raw = _required(row, column) if required else _text(row, column)
    if raw is None:
        return None
    try:
        amount = parse_amount(raw)
        if amount < 0:
            raise ValidationError(f"{raw} is negative")
        return to_minor(amount, currency)
    except ValidationError as exc:
        raise ValidationError(f"{column} {exc.message}") from exc


def _currency(row: Mapping[str, str], column: str, *, required: bool) -> str | None:
    raw = _required(row, column) if required else _text(row, column)
    return normalise_currency(raw) if raw is not None else None


def parse_customer(row: Mapping[str, str]) -> CustomerRow:
    country = _text(row, "country")
    if country is not None:
        country = country.upper()
        if not _COUNTRY.match(country):
            raise ValidationError(f"country {country!r} is not an ISO 3166 two-letter code")
    timezone = _text(row, "timezone")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"timezone {timezone!r} is not an IANA time zone") from exc
    terms_raw = _text(row, "terms_days")
    terms: int | None = None
    if terms_raw is not None:
        if not terms_raw.isdigit() or int(terms_raw) > MAX_TERMS_DAYS:
            raise ValidationError(f"terms_days {terms_raw!r} must be a whole number of days from 0 to 365")
        terms = int(terms_raw)
    tin_type = _text(row, "tin_type")
    return CustomerRow(
        customer_id=_identifier(row, "customer_id"),
        legal_name=_text(row, "legal_name"),
        dba_name=_text(row, "dba_name"),
        tin_type=tin_type.lower() if tin_type else None,
        tin=_text(row, "tin"),
        country=country,
        ap_email=_text(row, "ap_email"),
        phone=_text(row, "phone"),
        timezone=timezone,
        segment=_text(row, "segment"),
        currency=_currency(row, "currency", required=False),
        terms_days=terms,
    )


def parse_invoice(row: Mapping[str, str]) -> InvoiceRow:
    invoice_id = _identifier(row, "invoice_id")
    customer_id = _identifier(row, "customer_id")
    issue_date = _date(row, "issue_date")
    due_date = _date(row, "due_date")
    if due_date < issue_date:
        raise ValidationError(f"due_date {due_date} is before issue_date {issue_date}")
    currency = _currency(row, "currency", required=True)
    assert currency is not None
    amount = _money(row, "amount", currency, required=True)
    assert amount is not None
    balance = _money(row, "balance", currency, required=False)
    if balance is not None and balance > amount:
        raise ValidationError(f"balance {row.get('balance')} is larger than the invoice amount {row.get('amount')}")
    return InvoiceRow(
        invoice_id=invoice_id,
        customer_id=customer_id,
        number=_text(row, "number"),
        issue_date=issue_date,
        due_date=due_date,
        currency=currency,
        amount_minor=amount,
        balance_minor=balance,
        po_number=_text(row, "po_number"),
    )


def parse_payment(row: Mapping[str, str]) -> PaymentRow:
    payment_id = _identifier(row, "payment_id")
    customer_id = _identifier(row, "customer_id")
    paid_on = _date(row, "date")
    currency = _currency(row, "currency", required=True)
    assert currency is not None
    amount = _money(row, "amount", currency, required=True)
    if not amount:
        raise ValidationError("amount must be greater than zero")
    invoice_id = _text(row, "invoice_id")
    return PaymentRow(
        payment_id=payment_id,
        customer_id=customer_id,
        invoice_id=invoice_id,
        paid_on=paid_on,
        currency=currency,
        amount_minor=amount,
        method=_text(row, "method"),
    )
