from decimal import Decimal

import pytest

from shared.errors import ValidationError
from shared.money import currency_exponent, format_money, from_minor, parse_amount, to_minor


@pytest.mark.parametrize(("code", "exponent"), [("USD", 2), ("jpy", 0), ("BHD", 3), ("EUR", 2)])
def test_exponent_follows_iso_4217(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


def test_minor_units_round_trip_exactly() -> None:
    assert to_minor(Decimal("1234.56"), "USD") == 123456
    assert to_minor(Decimal("5000"), "JPY") == 5000
    assert to_minor(Decimal("1.234"), "BHD") == 1234
    assert from_minor(123456, "USD") == Decimal("1234.56")
    assert str(from_minor(5000, "JPY")) == "5000"
    assert str(from_minor(100, "USD")) == "1.00"


def test_more_decimals_than_the_currency_has_is_refused() -> None:
    with pytest.raises(ValidationError, match="more decimals than JPY allows"):
        to_minor(Decimal("10.5"), "JPY")
    with pytest.raises(ValidationError, match="USD"):
        to_minor(Decimal("0.001"), "USD")


@pytest.mark.parametrize("code", ["XXX1", "US", "ZZZ", ""])
def test_unknown_currencies_are_refused(code: str) -> None:
    with pytest.raises(ValidationError):
        currency_exponent(code)


def test_metals_have_no_minor_unit_and_cannot_be_invoiced() -> None:
    with pytest.raises(ValidationError, match="no minor unit"):
        currency_exponent("XAU")


@pytest.mark.parametrize("text", ["abc", "1.2.3", "NaN", "Infinity", ""])
def test_amounts_that_are_not_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_amount(text)


def test_thousands_separators_are_accepted_and_amounts_are_never_floats() -> None:
    assert parse_amount("1,234.50") == Decimal("1234.50")
    assert format_money(123450, "USD") == "1,234.50 USD"
