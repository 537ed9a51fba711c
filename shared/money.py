"""Money as exact decimals in code and integer minor units in storage (ISO 4217 exponents).

An amount is read exactly or refused with a reason, never guessed or rounded: a ledger that silently turns
`1,50` into 150.00 loses the customer's trust with the first statement. The plain grammar is
`[+-]digits[.digits]`, where the digits before the point may be grouped by commas in threes (`1,234,567.89`).
Anything else is refused: a comma that is not a thousands separator (`1,50`, `1,2345`, `1.234,56`), spaces
inside, a sign that is not in front, exponents, `NaN`, `Infinity`, digits other than 0-9. Exports written
with a decimal comma go through a column map's `number_locale` (shared/ledger/column_map.py) first.

What is stored must be exact too: at most 38 significant digits (DynamoDB's Number) and minor units within
a signed 64-bit integer, so any consumer can hold them without loss.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation, Rounded

import iso4217

from shared.errors import ValidationError

# Longer than any real amount ("-92,233,720,368,547,758.07" is 26 characters); checked before parsing.
MAX_AMOUNT_CHARS = 64
MAX_SIGNIFICANT_DIGITS = 38
MAX_MINOR = 2**63 - 1
QUOTE_CHARS = 40

_PLAIN_AMOUNT = re.compile(r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|[+-]?\.[0-9]+")
# Scaling to minor units must never round: with these traps an inexact result raises instead.
_EXACT = Context(prec=MAX_AMOUNT_CHARS * 2, traps=[Inexact, Rounded, InvalidOperation])


def quoted(value: str, limit: int = QUOTE_CHARS) -> str:
    """A value from an input file as an error message shows it: quoted, at most `limit` characters (then
    `…`), control and other invisible characters escaped. Every message that echoes input goes through
    here, so no error can carry a whole field or a terminal escape."""
    shown = value if len(value) <= limit else value[:limit] + "…"
    return repr(shown)


def currency_exponent(code: str) -> int:
    """Number of decimal places of an ISO 4217 currency (USD 2, JPY 0, BHD 3)."""
    normalised = code.strip().upper()
    try:
        exponent = iso4217.Currency(normalised).exponent
    except ValueError as exc:
        raise ValidationError(f"unknown currency {quoted(code)} (expected an ISO 4217 code such as USD)") from exc
    if exponent is None:  # funds and metals (XAU, XDR) have no minor unit: not invoice currencies
        raise ValidationError(f"currency {normalised} has no minor unit and cannot be invoiced")
    return int(exponent)


def normalise_currency(code: str) -> str:
    currency_exponent(code)
    return code.strip().upper()


def parse_amount(text: str) -> Decimal:
    """A decimal amount as written in a CSV ('1234.50', '1,234.50', '-3'); never a float. Negative amounts
    parse (the row checks decide whether a sign is allowed)."""
    cleaned = text.strip()
    if len(cleaned) > MAX_AMOUNT_CHARS:
        raise ValidationError(f"{quoted(cleaned)} is too long to be an amount ({len(cleaned)} characters)")
    if not _PLAIN_AMOUNT.fullmatch(cleaned):
        raise ValidationError(_why_not_an_amount(cleaned))
    value = Decimal(cleaned.replace(",", ""))
    significant = "".join(map(str, value.as_tuple().digits)).strip("0")
    if len(significant) > MAX_SIGNIFICANT_DIGITS:
        raise ValidationError(
            f"{quoted(cleaned)} has {len(significant)} significant digits; "
            f"at most {MAX_SIGNIFICANT_DIGITS} can be stored exactly"
        )
    return value


def _why_not_an_amount(text: str) -> str:
    if not text:
        return "'' is not a decimal number"
    shown = quoted(text)
    if "," in text:
        return (
            f"{shown} is ambiguous: a comma is read only as a thousands separator (1,234.56); "
            "for amounts written with a decimal comma, give the column map a number_locale such as de_DE"
        )
    if any(c.isspace() for c in text):
        return f"{shown} is not a decimal number: it has spaces inside"
    if re.fullmatch(r"[+-]?(s?nan|inf(inity)?)", text, re.IGNORECASE):
        return f"{shown} is not a finite number"
    if re.fullmatch(r"[+-]?[0-9.]+e[+-]?[0-9]+", text, re.IGNORECASE):
        return f"{shown} is not a plain decimal number: write it without an exponent"
    return f"{shown} is not a decimal number (write it like 1234.56 or 1,234.56)"


def to_minor(amount: Decimal, currency: str) -> int:
    """Decimal amount → integer minor units; refuses precision the currency does not have and amounts beyond
    a signed 64-bit integer of minor units."""
    exponent = currency_exponent(currency)
    code = currency.strip().upper()
    if not amount.is_finite():
        raise ValidationError(f"{amount} is not a finite number")
    try:
        scaled = amount.scaleb(exponent, context=_EXACT)
    except DecimalException as exc:
        raise ValidationError(f"{amount} cannot be stored exactly") from exc
    if scaled != scaled.to_integral_value():
        raise ValidationError(f"{amount} has more decimals than {code} allows ({exponent})")
    if scaled.adjusted() > 18 or abs(int(scaled)) > MAX_MINOR:
        largest = format_money(MAX_MINOR, code)
        raise ValidationError(f"{amount} is larger than can be stored exactly (at most {largest})")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Integer minor units → Decimal with the currency's exact number of places."""
    exponent = currency_exponent(currency)
    return Decimal(minor).scaleb(-exponent, context=_EXACT)


def format_money(minor: int, currency: str) -> str:
    amount = from_minor(minor, currency)
    return f"{amount:,.{currency_exponent(currency)}f} {currency.upper()}"
