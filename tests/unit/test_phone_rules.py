"""Phone numbers to E.164, checked against libphonenumber's own example numbers for every region it knows,
and whether a number can take an SMS."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from shared.errors import ValidationError
from shared.onboarding.phone_rules import normalise_phone, phone_can_take_sms

REGIONS = st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS))
TYPES = st.sampled_from([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE])


def example(region: str, kind: int) -> phonenumbers.PhoneNumber:
    number = phonenumbers.example_number_for_type(region, kind)
    assume(number is not None)
    assert number is not None
    return number


@given(REGIONS, TYPES)
def test_a_national_number_with_its_country_becomes_e164(region: str, kind: int) -> None:
    number = example(region, kind)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)

    assert normalise_phone(national, region) == phonenumbers.format_number(number, PhoneNumberFormat.E164)
    assert normalise_phone(national, region.lower()) == normalise_phone(national, region)


@given(REGIONS, TYPES, st.sampled_from([None, "US", "GB", "DE", "XX", ""]))
def test_an_international_number_does_not_depend_on_the_country_given(
    region: str, kind: int, country: str | None
) -> None:
    number = example(region, kind)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)

    assert normalise_phone(international, country) == e164
    assert normalise_phone(e164, None) == e164  # stored numbers normalise to themselves


@given(st.lists(st.sampled_from([" ", "-", ".", "(", ")"]), min_size=10, max_size=10))
def test_spaces_dashes_dots_and_brackets_between_digits_do_not_matter(separators: list[str]) -> None:
    digits = "4155552671"
    written = "".join(d + s for d, s in zip(digits, separators, strict=True))

    assert normalise_phone(written, "US") == normalise_phone(digits, "US") == "+1" + digits


def test_a_national_number_without_a_country_asks_for_the_country_code() -> None:
    with pytest.raises(ValidationError) as raised:
        normalise_phone("020 7946 0958", None)

    assert raised.value.message.startswith("phone: give the number with its country code")


def test_an_unknown_country_is_treated_as_none_given() -> None:
    assert normalise_phone("+44 20 7946 0958", "XX") == normalise_phone("+44 20 7946 0958", None)
    with pytest.raises(ValidationError, match="country code"):
        normalise_phone("020 7946 0958", "United Kingdom")


@pytest.mark.parametrize(
    ("value", "country", "said"),
    [
        ("", "US", "no number was given"),
        ("   ", None, "no number was given"),
        ("+999 1234 5678", None, "country code after the + is not one that exists"),
        ("12", "US", "not a valid number"),
        ("+1 555 555 5555", None, "not a valid number"),  # 555 is no US area code
        ("1" * 30, "US", "too many digits"),
        ("call me", "US", "not a phone number"),
        ("+1 415 555 2671 ext. 12", None, "extension"),
    ],
)
def test_what_is_not_a_valid_number_is_refused_with_a_sentence(value: str, country: str | None, said: str) -> None:
    with pytest.raises(ValidationError) as raised:
        normalise_phone(value, country)

    assert raised.value.message.startswith("phone: ") and said in raised.value.message


@given(st.text(max_size=60), st.one_of(st.none(), REGIONS, st.text(max_size=3)))
def test_any_text_is_a_number_in_e164_or_a_validation_error(value: str, country: str | None) -> None:
    try:
        e164 = normalise_phone(value, country)
    except ValidationError as exc:
        assert exc.message.startswith("phone: ")
    else:
        assert e164.startswith("+") and e164[1:].isdigit()
        assert normalise_phone(e164, None) == e164


@given(REGIONS)
def test_a_mobile_number_can_take_sms(region: str) -> None:
    e164 = phonenumbers.format_number(example(region, PhoneNumberType.MOBILE), PhoneNumberFormat.E164)

    assert phone_can_take_sms(e164)


@given(REGIONS, st.sampled_from([PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE]))
def test_a_number_known_to_be_a_landline_or_toll_free_cannot(region: str, kind: int) -> None:
    number = example(region, kind)
    assume(phonenumbers.number_type(number) == kind)  # not one of the FIXED_LINE_OR_MOBILE plans

    assert not phone_can_take_sms(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def test_in_north_america_any_valid_number_may_be_a_mobile_so_it_can_take_sms() -> None:
    assert phone_can_take_sms(normalise_phone("(212) 555-0100", "US"))


@pytest.mark.parametrize("value", ["", "not a number", "+1 555 555 5555", "+999"])
def test_what_is_not_a_valid_number_cannot_take_sms(value: str) -> None:
    assert not phone_can_take_sms(value)
