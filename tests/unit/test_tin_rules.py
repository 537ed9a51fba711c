"""The TIN gate against public vectors: python-stdnum's own doctest numbers, the IRS's EIN prefix and ITIN
range tables, the SSA's published never-issued numbers; and the properties every verdict keeps (the TIN is
never shown, separators and full-width digits do not matter, checking the normalised form again changes
nothing)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.us import ein as stdnum_ein
from stdnum.us import itin as stdnum_itin
from stdnum.us import ssn as stdnum_ssn

from shared.errors import ValidationError
from shared.onboarding.tin_rules import (
    CORPORATE_CLASSIFICATIONS,
    IRS_EIN_PREFIXES,
    TIN_TYPES,
    TinVerdict,
    check_tin,
    classification_from_name,
    clean_tin,
    normalise_tin,
)

# (type, value as a customer may type it, compact form): valid numbers from public sources.
VALID = [
    ("ein", "91-1144442", "911144442"),  # stdnum doctest
    ("ein", "04-2103594", "042103594"),  # stdnum doctest (Brookhaven)
    ("ein", "98-7654321", "987654321"),
    ("ein", "20-1234567", "201234567"),  # an Internet-issued prefix
    ("ssn", "536-90-4399", "536904399"),  # stdnum doctest
    ("ssn", "001-01-0001", "001010001"),
    ("ssn", "899-99-9999", "899999999"),
    ("itin", "912-90-3456", "912903456"),  # stdnum doctest
    ("itin", "900-70-0000", "900700000"),
    ("itin", "999-88-9999", "999889999"),
    ("itin", "912-94-1234", "912941234"),
    ("itin", "912-50-1234", "912501234"),  # the IRS's 2011 range, refused by stdnum 2.2
    ("itin", "912-65-1234", "912651234"),
    ("eu_vat", "BE697449992", "BE0697449992"),  # stdnum eu.vat doctest
    ("eu_vat", "FR 61 954 506 077", "FR61954506077"),
    ("eu_vat", "ATU 13585627", "ATU13585627"),
    ("eu_vat", "DE136695976", "DE136695976"),
    ("eu_vat", "NL004495445B01", "NL004495445B01"),
    ("eu_vat", "IT 00743110157", "IT00743110157"),
    ("eu_vat", "IE 6433435OA", "IE6433435OA"),
    ("eu_vat", "SE 123456789701", "SE123456789701"),
    ("eu_vat", "EL 094259216", "EL094259216"),
    ("eu_vat", "PL 8567346215", "PL8567346215"),
    ("eu_vat", "XI 980 7806 84", "XI980780684"),  # Northern Ireland is in VIES
    ("gb_vat", "GB 980 7806 84", "980780684"),  # stdnum doctest
    ("gb_vat", "980 7806 84 001", "980780684001"),  # with a branch number
    ("gb_vat", "GD001", "GD001"),
    ("gb_utr", "1955839661", "1955839661"),  # stdnum doctest
    ("gb_utr", "1955839661K", "1955839661"),  # as a Self Assessment payment reference
    ("ca_bn", "12302 6635", "123026635"),  # stdnum doctest
    ("ca_bn", "12302 6635 RC 0001", "123026635RC0001"),
]

# (type, value, a word the first reason must contain): invalid numbers and why.
INVALID = [
    ("ein", "07-1144442", "prefix"),  # stdnum doctest
    ("ein", "00-0000000", "prefix"),
    ("ein", "1234-5678", "nine digits"),
    ("ein", "12-345678", "too few"),
    ("ein", "12-34567890", "too many"),
    ("ein", "12-34567A9", "only digits"),
    ("ein", "P01594846", "PTIN"),  # stdnum's PTIN doctest
    ("ssn", "666-00-0000", "area"),  # stdnum doctest
    ("ssn", "000-12-3456", "area"),
    ("ssn", "666-12-3456", "area"),
    ("ssn", "536-00-4399", "group"),
    ("ssn", "536-90-0000", "serial"),
    ("ssn", "078-05-1120", "Woolworth"),  # SSA: the wallet card number
    ("ssn", "078-051120", "Woolworth"),  # a misplaced dash gets it past stdnum 2.2's list
    ("ssn", "219-09-9999", "pamphlet"),
    ("ssn", "457-55-5462", "LifeLock"),
    ("ssn", "123-45-6789", "sample"),
    ("ssn", "987-65-4320", "advertisements"),
    ("ssn", "987-65-4329", "advertisements"),
    ("ssn", "912-70-1234", "ITIN"),
    ("ssn", "912-93-1234", "ATIN"),
    ("ssn", "912-05-1234", "begins with 9"),
    ("ssn", "P-00634642", "PTIN"),
    ("itin", "912-93-4567", "adoptions"),  # stdnum doctest: an ATIN
    ("itin", "123-45-6789", "begins with 9"),  # stdnum doctest
    ("itin", "912-89-4567", "50-65"),
    ("itin", "912-66-4567", "50-65"),
    ("itin", "912-05-4567", "IRSN"),
    ("itin", "987-65-4321", "advertisements"),
    ("itin", "9129-0345", "nine digits"),
    ("itin", "P01594846", "PTIN"),
    ("eu_vat", "DE136695978", "check digits"),  # stdnum de.vat doctest
    ("eu_vat", "PL 8567346216", "check digits"),  # stdnum pl.nip doctest
    ("eu_vat", "FI 20774741", "check digits"),  # stdnum fi.alv doctest
    ("eu_vat", "BE431150351", "check digits"),  # stdnum be.vat doctest
    ("eu_vat", "EL 123456781", "check digits"),  # stdnum gr.vat doctest
    ("eu_vat", "136695976", "country code"),
    ("eu_vat", "GB980780684", "gb_vat"),
    ("eu_vat", "EU372000041", "One-Stop-Shop"),
    ("eu_vat", "ZZ123456789", "member state"),
    ("eu_vat", "DE1366959", "length"),
    ("gb_vat", "802311781", "check digits"),  # stdnum doctest
    ("gb_vat", "GD900", "government department"),
    ("gb_vat", "DE136695976", "eu_vat"),
    ("gb_vat", "98078068", "length"),
    ("gb_utr", "2955839661", "check digit"),  # stdnum doctest
    ("gb_utr", "195583966", "length"),
    ("ca_bn", "123456783", "check digit"),  # stdnum doctest
    ("ca_bn", "12345678Z", "characters"),  # stdnum doctest
    ("ca_bn", "123026635XX0001", "program identifier"),
    ("ca_bn", "1230266", "length"),
]

UNISSUED_EIN_PREFIXES = {"00", "07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70", "78", "79", "89"}
UNISSUED_EIN_PREFIXES |= {"96", "97"}


def itin_middle_digits_issued(group: int) -> bool:
    """The IRS's ranges, as it states them: 50-65, 70-88, 90-92, 94-99."""
    return 50 <= group <= 65 or 70 <= group <= 88 or 90 <= group <= 92 or 94 <= group <= 99


def formatted(compact: str) -> set[str]:
    """Ways the number could be written back: compact, and the US layouts."""
    forms = {compact}
    if len(compact) == 9 and compact.isdigit():
        forms |= {f"{compact[:2]}-{compact[2:]}", f"{compact[:3]}-{compact[3:5]}-{compact[5:]}"}
    return forms


def shown_text(verdict: TinVerdict) -> str:
    return "\n".join([*verdict.reasons, *verdict.warnings, json.dumps(verdict.as_json()), repr(verdict), str(verdict)])


@pytest.mark.parametrize(("tin_type", "value", "compact"), VALID)
def test_a_published_valid_number_passes_in_its_compact_form(tin_type: str, value: str, compact: str) -> None:
    verdict = check_tin(tin_type, value)

    assert (verdict.valid, verdict.normalised, verdict.reasons, verdict.level) == (True, compact, [], "format_valid")
    assert normalise_tin(tin_type, value) == compact


@pytest.mark.parametrize(("tin_type", "value", "word"), INVALID)
def test_an_invalid_number_is_refused_with_a_reason_that_says_why(tin_type: str, value: str, word: str) -> None:
    verdict = check_tin(tin_type, value)

    assert not verdict.valid and verdict.level == "invalid"
    assert word.lower() in verdict.reasons[0].lower()
    with pytest.raises(ValidationError) as raised:
        normalise_tin(tin_type, value)
    assert raised.value.message == verdict.reasons[0]


def test_the_ein_prefixes_refused_are_exactly_those_the_irs_never_issued() -> None:
    refused = {f"{p:02d}" for p in range(100) if not check_tin("ein", f"{p:02d}-1144442").valid}

    assert refused == UNISSUED_EIN_PREFIXES
    assert {f"{p:02d}" for p in range(100)} - UNISSUED_EIN_PREFIXES == IRS_EIN_PREFIXES


def test_stdnums_ein_prefix_table_agrees_with_the_irs_list_so_an_update_to_either_shows_here() -> None:
    for prefix in (f"{p:02d}" for p in range(100)):
        assert stdnum_ein.is_valid(f"{prefix}1144442") == (prefix in IRS_EIN_PREFIXES), prefix


def test_the_itin_middle_digits_accepted_are_the_irs_ranges_not_stdnums() -> None:
    accepted = {g for g in range(100) if check_tin("itin", f"912{g:02d}3456").valid}

    assert accepted == {g for g in range(100) if itin_middle_digits_issued(g)}
    # What is being corrected: stdnum 2.2 refuses the 50-65 range the IRS issues since 2011.
    assert {g for g in range(50, 66) if stdnum_itin.is_valid(f"912{g:02d}3456")} == set()


def test_a_number_stdnum_lets_through_with_a_misplaced_dash_is_still_the_woolworth_number() -> None:
    assert stdnum_ssn.is_valid("078-051120")  # the gap being closed
    assert not check_tin("ssn", "078-051120").valid


def test_stdnum_us_tin_alone_would_accept_numbers_the_gate_refuses() -> None:
    from stdnum.us import tin as stdnum_tin

    for tin_type, value in (("ssn", "123-45-6789"), ("itin", "912-93-4567"), ("ssn", "912-70-1234")):
        assert stdnum_tin.is_valid(value)
        assert not check_tin(tin_type, value).valid


@pytest.mark.parametrize("tin_type", ["ssn", "itin"])
@pytest.mark.parametrize("classification", sorted(CORPORATE_CLASSIFICATIONS))
def test_an_ssn_or_itin_with_a_corporate_classification_is_refused(tin_type: str, classification: str) -> None:
    value = {"ssn": "536-90-4399", "itin": "912-90-3456"}[tin_type]

    verdict = check_tin(tin_type, value, classification=classification, legal_name="Acme Holdings")

    assert not verdict.valid
    assert "identifies a person" in verdict.reasons[-1] and "Acme Holdings" in verdict.reasons[-1]
    assert "EIN" in verdict.reasons[-1]


def test_a_corporate_legal_name_is_enough_to_refuse_an_ssn() -> None:
    verdict = check_tin("ssn", "536-90-4399", legal_name="Acme Inc.")

    assert not verdict.valid
    assert verdict.reasons == ["an SSN identifies a person; Acme Inc. is a corporation and files under its EIN"]


def test_an_llc_name_with_an_ssn_is_a_warning_because_a_disregarded_single_member_llc_uses_its_owners() -> None:
    verdict = check_tin("ssn", "536-90-4399", legal_name="Acme L.L.C.")

    assert verdict.valid
    assert "single-member LLC" in verdict.warnings[0]


def test_the_w9_box_wins_over_the_name_but_a_mismatch_is_noted() -> None:
    verdict = check_tin("ssn", "536-90-4399", classification="sole_proprietor", legal_name="Acme Corp")

    assert verdict.valid
    assert "reads as a corporation" in verdict.warnings[0]


@pytest.mark.parametrize("tin_type", ["ein", "eu_vat"])
def test_a_business_number_with_a_corporate_classification_is_fine(tin_type: str) -> None:
    value = {"ein": "91-1144442", "eu_vat": "DE136695976"}[tin_type]

    verdict = check_tin(tin_type, value, classification="c_corporation", legal_name="Acme Inc.")

    assert verdict.valid and verdict.warnings == []


def test_an_unknown_classification_is_noted_and_ignored() -> None:
    verdict = check_tin("ssn", "536-90-4399", classification="charity")

    assert verdict.valid
    assert "'charity' is not a W-9 box" in verdict.warnings[0]


@pytest.mark.parametrize(
    ("legal_name", "expected"),
    [
        ("Acme Inc", "corporation"),
        ("Acme, Inc.", "corporation"),
        ("Acme Incorporated", "corporation"),
        ("Acme Corp.", "corporation"),
        ("Acme Corporation", "corporation"),
        ("Acme & Co.", "corporation"),
        ("The Acme Company", "corporation"),
        ("Acme Ltd", "corporation"),
        ("Acme Limited", "corporation"),
        ("Acme PLC", "corporation"),
        ("Acme GmbH", "corporation"),
        ("Acme S.A.", "corporation"),
        ("Acme S. A.", "corporation"),
        ("Acme LLC", "llc"),
        ("Acme L.L.C.", "llc"),
        ("Acme Limited Liability Company", "llc"),
        ("Acme LLP", "partnership"),
        ("Acme LP", "partnership"),
        ("Acme L.P.", "partnership"),
        ("Jane Doe", None),
        ("Incorporated Acme Holdings", None),
        ("Costco Wholesale", None),
        ("Inc.", None),
        ("", None),
        (None, None),
    ],
)
def test_the_legal_form_is_read_off_the_end_of_the_legal_name(legal_name: str | None, expected: str | None) -> None:
    assert classification_from_name(legal_name) == expected


@pytest.mark.parametrize(
    "value",
    [
        "12-3456789",
        "\uff11\uff12\uff0d\uff13\uff14\uff15\uff16\uff17\uff18\uff19",  # full width, as in the spec
        "12\u20133456789",  # en dash
        "12\u20143456789",  # em dash
        "12\u22123456789",  # minus sign
        "12 345 6789",
        "12.345.6789",
        "12/3456789",
        "\u200b12-3456789\u00ad",  # zero-width space and soft hyphen pasted from a PDF
    ],
)
def test_separators_and_full_width_digits_are_normalised_away(value: str) -> None:
    assert normalise_tin("ein", value) == "123456789"


def test_vat_prefixes_are_upper_cased() -> None:
    assert normalise_tin("eu_vat", " de 136 695 976 ") == "DE136695976"


def test_an_unknown_tin_type_is_an_invalid_verdict_that_lists_the_types() -> None:
    verdict = check_tin("vat", "DE136695976")

    assert not verdict.valid and verdict.normalised is None
    assert all(name in verdict.reasons[0] for name in TIN_TYPES)


def test_an_empty_value_is_refused_not_an_error() -> None:
    verdict = check_tin("ein", "  -  ")

    assert (verdict.valid, verdict.masked) == (False, "")
    assert verdict.reasons == ["no TIN was given: an EIN is needed"]


def test_a_canadian_business_number_says_which_form_it_is() -> None:
    assert "BN9" in check_tin("ca_bn", "123026635").warnings[0]
    assert "BN15" in check_tin("ca_bn", "123026635RT0001").warnings[0]
    assert "GST/HST" in check_tin("ca_bn", "123026635RT0001").warnings[0]


def test_a_greek_vat_number_written_with_gr_is_kept_but_noted() -> None:
    verdict = check_tin("eu_vat", "GR094259216")

    assert verdict.valid and "EL" in verdict.warnings[0]


def test_the_mask_shows_the_last_four_characters_only() -> None:
    assert check_tin("ssn", "536-90-4399").masked == "•••••4399"
    assert check_tin("eu_vat", "NL004495445B01").masked == "••••••••••5B01"
    assert check_tin("gb_vat", "GD001").masked == "•••••"  # too short to show any of it


def test_the_verdict_as_json_has_the_agreed_keys() -> None:
    assert set(check_tin("ein", "91-1144442").as_json()) == {
        "valid",
        "tin_type",
        "normalised_masked",
        "reasons",
        "warnings",
        "level",
    }


vectors = st.sampled_from([(t, v) for t, v, _ in VALID] + [(t, v) for t, v, _ in INVALID])
us_numbers = st.tuples(st.sampled_from(["ein", "ssn", "itin"]), st.from_regex(r"[0-9]{9}", fullmatch=True))


@given(st.one_of(vectors, us_numbers, st.tuples(st.sampled_from(sorted(TIN_TYPES)), st.text())))
def test_checking_the_normalised_form_again_gives_the_same_verdict(case: tuple[str, str]) -> None:
    tin_type, value = case
    verdict = check_tin(tin_type, value, legal_name="Acme Inc.")

    if verdict.normalised is not None:
        assert check_tin(tin_type, verdict.normalised, legal_name="Acme Inc.") == verdict


SEPARATORS = [" ", "-", "\u2013", "\u2014", ".", "/", "\u00a0", "\uff0d"]


@st.composite
def written_differently(draw: st.DrawFn) -> tuple[str, str, str]:
    tin_type, value = draw(st.one_of(vectors, us_numbers))
    chars = []
    for char in value:
        if char.isdigit() and draw(st.booleans()):
            char = chr(0xFF10 + int(char))  # full-width digit
        elif char.isalpha() and draw(st.booleans()):
            char = char.lower()
        chars.append(char + draw(st.sampled_from(["", "", *SEPARATORS])))
    return tin_type, value, "".join(chars)


@given(written_differently())
def test_separators_case_and_full_width_digits_do_not_change_the_verdict(case: tuple[str, str, str]) -> None:
    tin_type, value, variant = case

    assert check_tin(tin_type, variant) == check_tin(tin_type, value)


@given(st.one_of(vectors, us_numbers), st.sampled_from([None, *sorted(CORPORATE_CLASSIFICATIONS)]))
def test_the_full_tin_never_appears_in_what_a_verdict_shows(case: tuple[str, str], classification: str | None) -> None:
    tin_type, value = case
    verdict = check_tin(tin_type, value, classification=classification, legal_name="Acme Inc.")
    shown = shown_text(verdict)

    compact = verdict.normalised or clean_tin(value)
    for form in formatted(compact) | {value}:
        assert form not in shown
    visible = verdict.masked.replace("•", "")
    assert len(visible) <= 4 and compact.endswith(visible)


@given(st.text(), st.text(), st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
def test_check_tin_never_raises(tin_type: str, value: str, classification: str | None, name: str | None) -> None:
    verdict = check_tin(tin_type, value, classification=classification, legal_name=name)

    assert verdict.valid == (verdict.reasons == []) and verdict.level in ("invalid", "format_valid")


@given(st.one_of(vectors, us_numbers))
def test_normalise_tin_passes_exactly_what_check_tin_calls_valid(case: tuple[str, str]) -> None:
    tin_type, value = case
    verdict = check_tin(tin_type, value)
    try:
        assert normalise_tin(tin_type, value) == verdict.normalised and verdict.valid
    except ValidationError as exc:
        assert not verdict.valid and exc.message == verdict.reasons[0]
