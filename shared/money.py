"""Money as exact decimals in code and integer minor units in storage (ISO 4217 exponents)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import iso4217

from shared.errors import ValidationError


def currency_exponent(code: str) -> int:
    """Number of decimal places of an ISO 4217 currency (USD 2, JPY 0, BHD 3)."""
    normalised = code.strip().upper()
    try:
        exponent = iso4217.Currency(normalised).exponent
    except ValueError as exc:
        raise ValidationError(f"unknown currency {code!r} (expected an ISO 4217 code such as USD)") from exc
    if exponent is None:  # funds and metals (XAU, XDR) have no minor unit: not invoice currencies
        raise ValidationError(f"currency {normalised} has no minor unit and cannot be invoiced")
    return int(exponent)


def normalise_currency(code: str) -> str:
    currency_exponent(code)
    return code.strip().upper()


def parse_amount(text: str) -> Decimal:
    """A decimal amount as written in a CSV ('1234.50', '-3'); never a float."""
    cleaned = text.strip().replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValidationError(f"{text!r} is not a decimal number") from exc
    if not value.is_finite():
        raise ValidationError(f"{text!r} is not a finite number")
    return value


def to_minor(amount: Decimal, currency: str) -> int:
    """Decimal amount → integer minor units; refuses precision the currency does not have."""
    exponent = currency_exponent(currency)
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValidationError(f"{amount} has more decimals than {currency.upper()} allows ({exponent})")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Integer minor units → Decimal with the currency's exact number of places."""
    exponent = currency_exponent(currency)
    return Decimal(minor).scaleb(-exponent)


def format_money(minor: int, currency: str) -> str:
    amount = from_minor(minor, currency)
    return f"{amount:,.{currency_exponent(currency)}f} {currency.upper()}"
