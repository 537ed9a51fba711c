"""One CSV row → one validated import record, or a ValidationError whose message is the reason shown
to the user (`line N: reason`). Values that cannot be stored reject the row; master data that can be
stored but fails a check (a bad AP email, a malformed TIN) is accepted and reported as a warning.

Every text value is bounded (MAX_LENGTH below): an over-long value rejects its row, so no row can grow an
item towards DynamoDB's 400 KB or a report towards megabytes. Reasons quote a bad value only through
`shared.money.quoted` (a short, escaped prefix), and never quote the TIN, whatever is wrong with it.

The rows are plain dataclasses, not pydantic models: every field is checked here by hand for the exact
reason to show, and the ingest Lambda's cold start does not pay for four more model classes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import ValidationError
from shared.money import from_minor, normalise_currency, parse_amount, quoted, to_minor

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_TERMS = re.compile(r"[0-9]{1,3}")
MAX_TERMS_DAYS = 365

# The longest value each free-text column keeps, in characters. Ids are DynamoDB key parts (and appear in
# URLs and reports); names fit a statement's address block; an email address is at most 254 by RFC 5321.
MAX_LENGTH: dict[str, int] = {
    "customer_id": 128,
    "invoice_id": 128,
    "payment_id": 128,
    "credit_id": 128,
    "legal_name": 200,
    "dba_name": 200,
    "tin_type": 16,
    "tin": 32,
    "ap_email": 254,
    "phone": 32,
    "timezone": 64,
    "segment": 64,
    "number": 100,
    "po_number": 100,
    "method": 100,
    "reason": 500,
}
DEFAULT_MAX_LENGTH = 100  # columns with their own grammar (dates, amounts, codes) are far shorter

# A column map that cannot read a value (an amount in its number_locale) leaves the reason under this key;
# the row is then rejected with it like any other value that cannot be stored.
UNREADABLE = "__unreadable__"


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


@dataclass(frozen=True, slots=True)
class CreditRow:
    """A credit note: reduces what the customer owes like a payment, on the date it was issued."""

    credit_id: str
    customer_id: str
    invoice_id: str | None
    credited_on: date
    currency: str
    amount_minor: int
    reason: str | None


def _text(row: Mapping[str, str], column: str) -> str | None:
    value = (row.get(column) or "").strip()
    if not value:
        return None
    limit = MAX_LENGTH.get(column, DEFAULT_MAX_LENGTH)
    if len(value) > limit:
        # The value itself is not quoted: it may be the TIN.
        raise ValidationError(f"{column} is too long ({len(value)} characters; at most {limit})")
    return value


def _required(row: Mapping[str, str], column: str) -> str:
    value = _text(row, column)
    if value is None:
        raise ValidationError(f"{column} is required")
    return value


def _checked_identifier(column: str, value: str) -> str:
    if "#" in value:
        raise ValidationError(f"{column} {quoted(value)} must not contain '#'")
    if not value.isprintable():
        raise ValidationError(f"{column} {quoted(value)} has control or invisible characters")
    return value


def _identifier(row: Mapping[str, str], column: str) -> str:
    return _checked_identifier(column, _required(row, column))


def _optional_identifier(row: Mapping[str, str], column: str) -> str | None:
    value = _text(row, column)
    return _checked_identifier(column, value) if value is not None else None


def _date(row: Mapping[str, str], column: str) -> date:
    value = _required(row, column)
    if not _ISO_DATE.fullmatch(value):
        raise ValidationError(f"{column} {quoted(value)} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{column} {quoted(value)} is not a real date") from exc


def _money(row: Mapping[str, str], column: str, currency: str, *, required: bool) -> int | None:
    raw = _required(row, column) if required else _text(row, column)
    if raw is None:
        return None
    try:
        amount = parse_amount(raw)
        if amount < 0:
            raise ValidationError(f"{amount} is negative")  # a parsed number: digits, sign and point only
        return to_minor(amount, currency)
    except ValidationError as exc:
        raise ValidationError(f"{column} {exc.message}") from exc


def _positive_money(row: Mapping[str, str], column: str, currency: str) -> int:
    amount = _money(row, column, currency, required=True)
    if not amount:
        raise ValidationError(f"{column} must be greater than zero")
    return amount


def _currency(row: Mapping[str, str], column: str, *, required: bool) -> str | None:
    raw = _required(row, column) if required else _text(row, column)
    return normalise_currency(raw) if raw is not None else None


def _mapped_cleanly(row: Mapping[str, str]) -> None:
    reason = row.get(UNREADABLE)
    if reason:
        raise ValidationError(reason)


def parse_customer(row: Mapping[str, str]) -> CustomerRow:
    _mapped_cleanly(row)
    customer_id = _identifier(row, "customer_id")
    country = _text(row, "country")
    if country is not None:
        country = country.upper()
        if not _COUNTRY.fullmatch(country):
            raise ValidationError(f"country {quoted(country)} is not an ISO 3166 two-letter code")
    timezone = _text(row, "timezone")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a directory such as "America"
            raise ValidationError(f"timezone {quoted(timezone)} is not an IANA time zone") from exc
    terms_raw = _text(row, "terms_days")
    terms: int | None = None
    if terms_raw is not None:
        if not _TERMS.fullmatch(terms_raw) or int(terms_raw) > MAX_TERMS_DAYS:
            raise ValidationError(
                f"terms_days {quoted(terms_raw)} must be a whole number of days from 0 to {MAX_TERMS_DAYS}"
            )
        terms = int(terms_raw)
    tin_type = _text(row, "tin_type")
    return CustomerRow(
        customer_id=customer_id,
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
    _mapped_cleanly(row)
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
        raise ValidationError(
            f"balance {from_minor(balance, currency)} is larger than the invoice amount {from_minor(amount, currency)}"
        )
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
    _mapped_cleanly(row)
    payment_id = _identifier(row, "payment_id")
    customer_id = _identifier(row, "customer_id")
    paid_on = _date(row, "date")
    currency = _currency(row, "currency", required=True)
    assert currency is not None
    return PaymentRow(
        payment_id=payment_id,
        customer_id=customer_id,
        invoice_id=_optional_identifier(row, "invoice_id"),
        paid_on=paid_on,
        currency=currency,
        amount_minor=_positive_money(row, "amount", currency),
        method=_text(row, "method"),
    )


def parse_credit(row: Mapping[str, str]) -> CreditRow:
    _mapped_cleanly(row)
    credit_id = _identifier(row, "credit_id")
    customer_id = _identifier(row, "customer_id")
    credited_on = _date(row, "date")
    currency = _currency(row, "currency", required=True)
    assert currency is not None
    return CreditRow(
        credit_id=credit_id,
        customer_id=customer_id,
        invoice_id=_optional_identifier(row, "invoice_id"),
        credited_on=credited_on,
        currency=currency,
        amount_minor=_positive_money(row, "amount", currency),
        reason=_text(row, "reason"),
    )
