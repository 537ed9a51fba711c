from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import ValidationError
from shared.money import (
    MAX_MINOR,
    currency_exponent,
    format_money,
    from_minor,
    parse_amount,
    quoted,
    to_minor,
)


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


def test_a_tiny_fraction_hidden_beyond_28_digits_is_refused_not_rounded_away() -> None:
    # The default decimal context keeps 28 digits: scaling this by 100 there would round it to 100 cents.
    with pytest.raises(ValidationError, match="more decimals than USD allows"):
        to_minor(Decimal("1.00000000000000000000000000001"), "USD")


def test_minor_units_beyond_a_signed_64_bit_integer_are_refused() -> None:
    assert to_minor(Decimal("92233720368547758.07"), "USD") == MAX_MINOR
    with pytest.raises(ValidationError, match=r"larger than can be stored exactly \(at most 92,233,720,368,547,758.07"):
        to_minor(Decimal("92233720368547758.08"), "USD")
    with pytest.raises(ValidationError, match="larger than can be stored"):
        to_minor(Decimal("-92233720368547758.08"), "USD")
    with pytest.raises(ValidationError, match="larger than can be stored"):
        to_minor(Decimal("1E+30"), "JPY")


@pytest.mark.parametrize("code", ["XXX1", "US", "ZZZ", ""])
def test_unknown_currencies_are_refused(code: str) -> None:
    with pytest.raises(ValidationError):
        currency_exponent(code)


def test_metals_have_no_minor_unit_and_cannot_be_invoiced() -> None:
    with pytest.raises(ValidationError, match="no minor unit"):
        currency_exponent("XAU")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1234.50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1,234,567", "1234567"),
        ("-1,234.5", "-1234.5"),
        ("+7", "7"),
        (".5", "0.5"),
        ("  12  ", "12"),
        ("0", "0"),
    ],
)
def test_plain_amounts_and_thousands_separators_in_threes_are_read_exactly(text: str, value: str) -> None:
    parsed = parse_amount(text)
    assert parsed == Decimal(value)
    assert isinstance(parsed, Decimal)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1,50", "ambiguous"),
        ("1,2345", "ambiguous"),
        ("1.234,56", "ambiguous"),
        ("12,34,567", "ambiguous"),
        (",123", "ambiguous"),
        ("1 234.56", "spaces inside"),
        ("1\u00a0234", "spaces inside"),
        ("5-", "not a decimal number"),
        ("--5", "not a decimal number"),
        ("+-5", "not a decimal number"),
        ("- 5", "spaces inside"),
        ("1e3", "without an exponent"),
        ("1.5E-2", "without an exponent"),
        ("NaN", "not a finite number"),
        ("-Infinity", "not a finite number"),
        ("inf", "not a finite number"),
        ("$12.00", "not a decimal number"),
        ("12.00 USD", "spaces inside"),
        ("12.00USD", "not a decimal number"),
        ("1.2.3", "not a decimal number"),
        ("5.", "not a decimal number"),
        ("abc", "not a decimal number"),
        ("", "not a decimal number"),
        ("\u0663\u0664", "not a decimal number"),  # Arabic-Indic digits: Decimal would take them
    ],
)
def test_anything_ambiguous_or_not_a_plain_number_is_refused_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        parse_amount(text)


def test_the_refusal_of_a_decimal_comma_says_how_to_import_it() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_amount("1,50")
    assert "'1,50'" in caught.value.message
    assert "number_locale" in caught.value.message


def test_absurdly_long_input_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_amount("9" * 100_000)
    assert "too long to be an amount (100000 characters)" in caught.value.message
    assert len(caught.value.message) < 120


def test_more_significant_digits_than_dynamodb_keeps_are_refused() -> None:
    assert parse_amount("1" * 38) == Decimal("1" * 38)
    assert parse_amount("1" + "0" * 50) == Decimal("1" + "0" * 50)  # trailing zeros are not precision
    with pytest.raises(ValidationError, match="39 significant digits; at most 38"):
        parse_amount("1" * 39)
    with pytest.raises(ValidationError, match="39 significant digits"):
        parse_amount("0." + "1" * 39)


def test_negative_amounts_parse_so_the_row_check_can_say_they_are_negative() -> None:
    assert parse_amount("-5") == Decimal("-5")


@given(st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=2, allow_nan=False))
def test_any_amount_written_with_thousands_separators_reads_back_exactly(amount: Decimal) -> None:
    assert parse_amount(f"{amount:,.2f}") == amount
    assert parse_amount(f"{amount:.2f}") == amount


@given(
    st.integers(min_value=0, max_value=10**9),
    st.one_of(st.integers(min_value=1, max_value=2), st.integers(min_value=4, max_value=8)),
    st.data(),
)
def test_a_comma_followed_by_anything_but_three_digits_is_refused(whole: int, width: int, data: st.DataObject) -> None:
    tail = data.draw(st.text(alphabet="0123456789", min_size=width, max_size=width))
    with pytest.raises(ValidationError, match="ambiguous"):
        parse_amount(f"{whole},{tail}")


def test_quoted_values_are_short_and_escaped() -> None:
    assert quoted("INV-1") == "'INV-1'"
    assert quoted("x" * 100) == "'" + "x" * 40 + "…'"
    assert quoted("\x1b[31mred\nline") == "'\\x1b[31mred\\nline'"
    assert quoted("\u202eevil") == "'\\u202eevil'"  # a right-to-left override is shown, not obeyed


def test_thousands_separators_are_accepted_and_amounts_are_never_floats() -> None:
    assert parse_amount("1,234.50") == Decimal("1234.50")
    assert format_money(123450, "USD") == "1,234.50 USD"
