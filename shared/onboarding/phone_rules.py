"""Customer phone numbers, stored in E.164 (+14155550123): the form SMS gateways take and the one key a
number has however a person wrote it. Parsing, validity per region and the number's type are Google's
libphonenumber rules (the phonenumbers package); a number that is not valid for its region is refused, since
an SMS reminder to it could only fail.
"""

from __future__ import annotations

from shared.errors import ValidationError


def normalise_phone(value: str, country: str | None) -> str:
    """`value` in E.164; ValidationError("phone: ...") with a sentence a clerk understands otherwise.
    `country` (ISO 3166 alpha-2, e.g. "US") is where a number written without its country code is from;
    None, or a code libphonenumber does not know, means the number must start with + and its country code."""
    import phonenumbers

    if not isinstance(value, str) or not value.strip():
        raise ValidationError("phone: no number was given")
    region = (country or "").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        region = ""
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_parse_problem(exc.error_type, value.strip().startswith("+"))) from None
    if number.extension:
        raise ValidationError("phone: an extension cannot receive text messages: give the direct number without it")
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or region
        place = f" in {where}" if where and where != phonenumbers.UNKNOWN_REGION else ""
        raise ValidationError(
            f"phone: not a valid number{place}: check the digits and that the country code is the right one"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_can_take_sms(e164: str) -> bool:
    """Whether the number is a mobile one (or, as in the US and Canada, one whose numbering does not tell
    mobile from fixed line). False for anything that is not a valid number."""
    import phonenumbers

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(number):
        return False
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def _parse_problem(error_type: int, international: bool) -> str:
    from phonenumbers import NumberParseException as Problem

    if error_type == Problem.INVALID_COUNTRY_CODE:
        if international:
            return "phone: the country code after the + is not one that exists"
        return "phone: give the number with its country code, e.g. +1 212 555 0100 or +44 20 7946 0000"
    if error_type == Problem.TOO_LONG:
        return "phone: the number has too many digits"
    if error_type in (Problem.TOO_SHORT_NSN, Problem.TOO_SHORT_AFTER_IDD):
        return "phone: the number has too few digits"
    return "phone: this is not a phone number (give it with its country code, e.g. +1 212 555 0100)"
