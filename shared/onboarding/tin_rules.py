"""The gate every TIN passes before it is stored: format and check digits (python-stdnum), plus the issuance
rules python-stdnum does not know or gets wrong, written out here so each one is explicit and tested.

Why the extra rules: `stdnum.us.tin` accepts any nine digits, and the per-type modules are not enough either.

- EIN: the IRS publishes the two-digit prefixes it issues ("How EINs are assigned and valid EIN prefixes").
  `IRS_EIN_PREFIXES` is that list; stdnum 2.2's `us/ein.dat` agrees with it today (a test pins both), so
  00, 07-09, 17-19, 28, 29, 49, 69, 70, 78, 79, 89, 96 and 97 are refused.
- SSN: area 000, 666 and 900-999, group 00 and serial 0000 are never issued; a few numbers were published and
  belong to no one (`KNOWN_SAMPLE_SSNS`, and the SSA's advertising range 987-65-4320 to 4329). stdnum 2.2 knows
  three of them but misses 123-45-6789, and its list is skipped when a dash is misplaced ("078-051120").
- ITIN: a 9 first, then middle digits 50-65, 70-88, 90-92 or 94-99 (the IRS added 50-65 in 2011). stdnum 2.2
  allows only 70-88, 90-92 and 94-99 and so refuses real ITINs; `ITIN_GROUPS` is the IRS list and replaces
  stdnum's group check. 9XX-93-XXXX is an ATIN (pending adoptions) and P plus eight digits a PTIN (paid
  preparers): neither is a customer's TIN.
- An SSN or ITIN identifies a person: with a corporate W-9 classification (given, or read off the legal name)
  it is refused, since the business files under its EIN. An LLC read off the name is only a warning: a
  disregarded single-member LLC rightly gives its owner's SSN.
- EU VAT numbers need their country prefix; GB numbers are sent to gb_vat, and EU/IM One-Stop-Shop numbers are
  refused (no member state issued them, VIES cannot confirm them). The compact forms are stdnum's, unchanged, so
  fingerprints of stored TINs stay stable (a GR prefix is kept and noted; VIES is asked with EL).

`check_tin` never raises; `normalise_tin` is the gate the importer and the portal call and raises
`ValidationError` with the first reason. Reasons are sentences a clerk holding the W-9 understands, written to
follow "tin: ", and never contain the TIN (`TinVerdict.masked` shows the last four characters at most).
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

from stdnum import exceptions as stdnum_errors

from shared.errors import ValidationError

# python-stdnum module per TIN type, imported on first use: most Lambda invocations check no TIN.
TIN_TYPES: dict[str, str] = {
    "ein": "stdnum.us.ein",
    "ssn": "stdnum.us.ssn",
    "itin": "stdnum.us.itin",
    "eu_vat": "stdnum.eu.vat",
    "gb_vat": "stdnum.gb.vat",
    "gb_utr": "stdnum.gb.utr",
    "ca_bn": "stdnum.ca.bn",
}

# How far a TIN has been checked. This module decides the first two; the onboarding workflow sets the others
# once a document (a W-9, an IRS letter) was looked at or an external register (VIES) confirmed the number.
TIN_LEVELS = ("invalid", "format_valid", "document_verified", "externally_matched")

# W-9 line 3a (federal tax classification). A business in one of these boxes files under its EIN.
CORPORATE_CLASSIFICATIONS = frozenset(
    {
        "c_corporation",
        "s_corporation",
        "corporation",  # a corporation, C or S not known (what `classification_from_name` answers)
        "partnership",
        "trust_estate",
        "llc",  # the W-9's LLC box: an LLC taxed as a C corporation, an S corporation or a partnership
        "llc_c",
        "llc_s",
        "llc_p",
    }
)
# The first box: a person, who may give an SSN or ITIN (a disregarded single-member LLC gives its owner's).
INDIVIDUAL_CLASSIFICATIONS = frozenset({"individual", "sole_proprietor", "single_member_llc"})
OTHER_CLASSIFICATIONS = frozenset({"other"})


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# The IRS's valid EIN prefixes, by the campus or channel that issues them.
EIN_PREFIXES_BY_ISSUER: dict[str, tuple[str, ...]] = {
    "Andover": _codes("10 12"),
    "Atlanta": _codes("60 67"),
    "Austin": _codes("50 53"),
    "Brookhaven": _codes("01 02 03 04 05 06 11 13 14 16 21 22 23 25 34 51 52 54 55 56 57 58 59 65"),
    "Cincinnati": _codes("30 32 35 36 37 38 61"),
    "Fresno": _codes("15 24"),
    "Kansas City": _codes("40 44"),
    "Memphis": _codes("94 95"),
    "Ogden": _codes("80 90"),
    "Philadelphia": _codes("33 39 41 42 43 46 48 62 63 64 66 68 71 72 73 74 75 76 77 85 86 87 88 91 92 93 98 99"),
    "Internet": _codes("20 26 27 45 46 47 81 82 83 84 85 86 87 88"),
    "Small Business Administration": _codes("31"),
}
IRS_EIN_PREFIXES = frozenset(p for prefixes in EIN_PREFIXES_BY_ISSUER.values() for p in prefixes)

# Fourth and fifth digits of the numbers the IRS issues that begin with 9.
ITIN_GROUPS = frozenset(f"{n:02d}" for n in (*range(50, 66), *range(70, 89), *range(90, 93), *range(94, 100)))
ATIN_GROUP = "93"
IRSN_GROUPS = frozenset(f"{n:02d}" for n in (*range(1, 11), *range(17, 20), 28, 29, 37, 38, 39))

# Published numbers that belong to no one (all would pass the area/group/serial rules but the last range).
KNOWN_SAMPLE_SSNS: dict[str, str] = {
    "078051120": "the number printed on the sample card sold in Woolworth wallets in 1938",
    "219099999": "the number printed in a Social Security Board advertising pamphlet",
    "457555462": "the number LifeLock's chief executive published in its advertising",
    "123456789": "the sequence forms print as a sample",
}
SSA_ADVERTISING_SSNS = frozenset(f"98765432{n}" for n in range(10))

EU_VAT_PREFIXES = frozenset(
    _codes("AT BE BG CY CZ DE DK EE EL ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK XI")
)
CA_BN_PROGRAMS = {
    "RC": "corporation income tax",
    "RM": "import-export",
    "RP": "payroll deductions",
    "RT": "GST/HST",
}

_LABELS = {
    "ein": "an EIN",
    "ssn": "an SSN",
    "itin": "an ITIN",
    "eu_vat": "an EU VAT number",
    "gb_vat": "a UK VAT number",
    "gb_utr": "a UK Unique Taxpayer Reference (UTR)",
    "ca_bn": "a Canadian Business Number",
}
_CLASSIFICATION_PHRASES = {
    "c_corporation": "a C corporation",
    "s_corporation": "an S corporation",
    "corporation": "a corporation",
    "partnership": "a partnership",
    "trust_estate": "a trust or estate",
    "llc": "an LLC taxed as a corporation or partnership",
    "llc_c": "an LLC taxed as a C corporation",
    "llc_s": "an LLC taxed as an S corporation",
    "llc_p": "an LLC taxed as a partnership",
    "individual": "an individual",
    "sole_proprietor": "a sole proprietor",
    "single_member_llc": "a single-member LLC",
}
# Legal-form endings, matched on the lower-cased name with dots and commas removed ("L.L.C." -> "llc").
_NAME_ENDINGS: tuple[tuple[str, str], ...] = (
    ("limited liability partnership", "partnership"),
    ("limited liability company", "llc"),
    ("limited partnership", "partnership"),
    ("professional corporation", "corporation"),
    ("pty ltd", "corporation"),
    ("pte ltd", "corporation"),
    *((ending, "llc") for ending in ("llc", "pllc", "lc")),
    *((ending, "partnership") for ending in ("llp", "lllp", "lp")),
    *(
        (ending, "corporation")
        for ending in (
            "inc",
            "incorporated",
            "corp",
            "corporation",
            "co",
            "company",
            "ltd",
            "limited",
            "plc",
            "pc",
            "gmbh",
            "ag",
            "sa",
            "sas",
            "sarl",
            "srl",
            "spa",
            "bv",
            "nv",
            "ab",
            "oy",
            "kk",
        )
    ),
)

_REMOVED = frozenset(" -./\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_NINE_DIGITS = re.compile(r"[0-9]{9}")
_PTIN = re.compile(r"P[0-9]{8}")
_MASK = "\u2022"

_PTIN_REASON = (
    "this is a PTIN (P and eight digits), which identifies a paid tax preparer, not the customer; "
    "ask for the customer's own TIN"
)
_ATIN_REASON = (
    "this is an ATIN (middle digits 93): an ATIN is issued for pending adoptions, not a business TIN; "
    "ask for the customer's own TIN"
)


@dataclass(frozen=True)
class TinVerdict:
    """What `check_tin` found. `normalised` is the full TIN: it is left out of `repr` and `as_json`."""

    valid: bool
    tin_type: str
    normalised: str | None  # compact canonical form; None when the value does not even have the type's shape
    masked: str  # the last four characters at most, e.g. "•••••6789"
    reasons: list[str]  # why it is refused; [] when valid
    warnings: list[str]  # notes that do not refuse it
    level: str  # "invalid" or "format_valid"; the workflow sets "document_verified" / "externally_matched"

    def as_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "tin_type": self.tin_type,
            "normalised_masked": self.masked,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "level": self.level,
        }

    def __repr__(self) -> str:
        return (
            f"TinVerdict(valid={self.valid!r}, tin_type={self.tin_type!r}, masked={self.masked!r}, "
            f"reasons={self.reasons!r}, warnings={self.warnings!r}, level={self.level!r})"
        )


@dataclass
class _Finding:
    normalised: str | None
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def clean_tin(value: str) -> str:
    """The value as typed, without separators: NFKC (full-width digits), any decimal digit as ASCII, spaces,
    dashes of every kind, dots and slashes removed, invisible formatting characters dropped, upper case."""
    text = value
    for _ in range(4):  # removing a separator can let NFKC compose again ("A" + space + acute): until stable
        cleaned = _clean_once(text)
        if cleaned == text:
            break
        text = cleaned
    return text


def _clean_once(value: str) -> str:
    kept = []
    for char in unicodedata.normalize("NFKC", value):
        if char in _REMOVED or char.isspace() or unicodedata.category(char) == "Cf":
            continue
        digit = unicodedata.decimal(char, None)
        kept.append(str(digit) if digit is not None else char)
    return unicodedata.normalize("NFKC", "".join(kept).upper())


# No TIN is longer than 15 characters (a Canadian BN15): a longer value is not one, and its mask stays short.
_MASK_MAX = 11


def mask_tin(value: str) -> str:
    """Bullets and the last four characters; all bullets when the value is too short to hide anything else."""
    if len(value) < 8:
        return _MASK * len(value)
    return _MASK * min(len(value) - 4, _MASK_MAX) + value[-4:]


def check_tin(
    tin_type: str, value: str, *, classification: str | None = None, legal_name: str | None = None
) -> TinVerdict:
    """Every offline rule for the declared TIN type. Never raises: bad input is an invalid verdict."""
    kind = tin_type.strip().lower() if isinstance(tin_type, str) else ""
    cleaned = clean_tin(value) if isinstance(value, str) else ""
    if kind not in TIN_TYPES:
        if kind:
            reason = f"the TIN type {str(tin_type)[:40]!r} is not one of {', '.join(TIN_TYPES)}"
        else:
            reason = f"no TIN type was given: say which kind the TIN is ({', '.join(TIN_TYPES)})"
        return _verdict(str(tin_type), _Finding(None, [reason]), cleaned)
    if not cleaned:
        return _verdict(kind, _Finding(None, [f"no TIN was given: {_LABELS[kind]} is needed"]), "")
    finding = _RULES[kind](cleaned)
    _check_classification(kind, classification, legal_name, finding)
    return _verdict(kind, finding, cleaned)


def normalise_tin(tin_type: str, value: str) -> str:
    """The TIN in its compact canonical form; ValidationError with the first reason when it fails any rule."""
    verdict = check_tin(tin_type, value)
    if verdict.valid and verdict.normalised is not None:
        return verdict.normalised
    raise ValidationError(verdict.reasons[0] if verdict.reasons else "the TIN cannot be used")


def classification_from_name(legal_name: str | None) -> str | None:
    """ "corporation", "llc" or "partnership" when the legal name ends in a legal form (Inc, Corp., L.L.C.,
    LLP, Ltd, GmbH, S.A., ...); None otherwise. A guess from the name: the W-9's box, when known, wins."""
    if not legal_name:
        return None
    words = re.sub(r"[.,]", " ", legal_name.lower().replace(".", " ")).split()
    # Spaced or dotted initials ("L.L.C.", "S. A.") arrive as one-letter words: join them back ("llc", "sa").
    initials = 0
    while initials < len(words) and len(words[-1 - initials]) == 1:
        initials += 1
    if initials > 1:
        words = [*words[:-initials], "".join(words[-initials:])]
    text = " ".join(words)
    for ending, kind in _NAME_ENDINGS:
        if text.endswith(" " + ending):
            return kind
    return None


def _verdict(kind: str, finding: _Finding, cleaned: str) -> TinVerdict:
    valid = not finding.reasons and finding.normalised is not None
    return TinVerdict(
        valid=valid,
        tin_type=kind,
        normalised=finding.normalised,
        masked=mask_tin(finding.normalised or cleaned),
        reasons=list(dict.fromkeys(finding.reasons)),
        warnings=list(dict.fromkeys(finding.warnings)),
        level="format_valid" if valid else "invalid",
    )


@cache
def _module(kind: str) -> ModuleType:
    return importlib.import_module(TIN_TYPES[kind])


def _stdnum(kind: str, cleaned: str) -> tuple[str | None, stdnum_errors.ValidationError | None]:
    """stdnum's compact form and its complaint. A check-digit or issuance complaint keeps the compact form
    (the value has the type's shape); a length or character complaint does not."""
    module = _module(kind)
    try:
        return str(module.validate(cleaned)), None
    except (stdnum_errors.InvalidChecksum, stdnum_errors.InvalidComponent) as exc:
        try:
            return str(module.compact(cleaned)), exc
        except stdnum_errors.ValidationError:
            return None, exc
    except stdnum_errors.ValidationError as exc:
        return None, exc


def _us_shape(kind: str, cleaned: str, layout: str) -> _Finding | None:
    """A refusal when the value is not nine digits (or is a PTIN); None when the issuance rules apply. Only
    stdnum's format complaints count here: its issuance tables are replaced by the explicit rules below."""
    if _PTIN.fullmatch(cleaned):
        return _Finding(None, [_PTIN_REASON])
    _, complaint = _stdnum(kind, cleaned)
    if _NINE_DIGITS.fullmatch(cleaned) and (complaint is None or isinstance(complaint, stdnum_errors.InvalidComponent)):
        return None
    label = _LABELS[kind]
    if not cleaned.isdigit():
        return _Finding(None, [f"{label} has only digits: nine of them, written {layout}"])
    return _Finding(
        None, [f"{label} has nine digits, written {layout}; this one has too {'few' if len(cleaned) < 9 else 'many'}"]
    )


def _ein(cleaned: str) -> _Finding:
    refused = _us_shape("ein", cleaned, "XX-XXXXXXX")
    if refused is not None:
        return refused
    finding = _Finding(cleaned)
    if cleaned[:2] not in IRS_EIN_PREFIXES:
        finding.reasons.append(
            "the first two digits of this EIN are not a prefix the IRS has ever issued; check the number against "
            "the W-9 or the IRS letter that assigned it (CP 575 or 147C)"
        )
    if cleaned == "123456789":
        finding.warnings.append("this EIN is the sequence forms print as a sample; make sure it is the customer's")
    return finding


def _ssn(cleaned: str) -> _Finding:
    refused = _us_shape("ssn", cleaned, "XXX-XX-XXXX")
    if refused is not None:
        return refused
    finding = _Finding(cleaned)
    area, group, serial = cleaned[:3], cleaned[3:5], cleaned[5:]
    if cleaned in KNOWN_SAMPLE_SSNS:
        finding.reasons.append(f"this SSN is {KNOWN_SAMPLE_SSNS[cleaned]}; it belongs to no one")
    if cleaned in SSA_ADVERTISING_SSNS:
        finding.reasons.append("this SSN is one the Social Security Administration reserves for advertisements")
    if area.startswith("9"):
        if group in ITIN_GROUPS:
            finding.reasons.append(
                "an SSN never begins with 9, and this number looks like an ITIN: if the W-9 gives an ITIN, "
                "declare it as an ITIN"
            )
        elif group == ATIN_GROUP:
            finding.reasons.append("an SSN never begins with 9; " + _ATIN_REASON)
        else:
            finding.reasons.append("an SSN never begins with 9, and this number is not an ITIN either")
    elif area in ("000", "666"):
        finding.reasons.append("the first three digits (the area number) of this SSN are never issued")
    if group == "00":
        finding.reasons.append("the middle two digits (the group number) of an SSN are never 00")
    if serial == "0000":
        finding.reasons.append("the last four digits (the serial number) of an SSN are never 0000")
    if not finding.reasons and not _module("ssn").is_valid(cleaned):
        finding.reasons.append("the Social Security Administration never issues this number")  # stdnum knows more
    return finding


def _itin(cleaned: str) -> _Finding:
    refused = _us_shape("itin", cleaned, "9XX-XX-XXXX")
    if refused is not None:
        return refused
    finding = _Finding(cleaned)
    group = cleaned[3:5]
    if cleaned in SSA_ADVERTISING_SSNS:
        finding.reasons.append("this number is one the Social Security Administration reserves for advertisements")
    if not cleaned.startswith("9"):
        finding.reasons.append(
            "an ITIN always begins with 9; this number may be an SSN or an EIN: declare the type the W-9 gives"
        )
    elif group == ATIN_GROUP:
        finding.reasons.append(_ATIN_REASON)
    elif group not in ITIN_GROUPS:
        reason = "the fourth and fifth digits of an ITIN are 50-65, 70-88, 90-92 or 94-99, and this number's are not"
        if group in IRSN_GROUPS:
            reason += "; it looks like an IRSN, a number the IRS assigns for its own processing, not a TIN"
        finding.reasons.append(reason)
    return finding


def _country_name(code: str) -> str:
    from babel import Locale

    territory = {"EL": "GR"}.get(code, code)
    if territory == "XI":
        return "Northern Ireland"
    name = Locale("en").territories.get(territory)
    return str(name) if name else code


def _complaint_reason(label: str, complaint: stdnum_errors.ValidationError, layout: str) -> str:
    if isinstance(complaint, stdnum_errors.InvalidChecksum):
        return f"the check digits of {label} do not match: a digit is mistyped or two are swapped"
    if isinstance(complaint, stdnum_errors.InvalidLength):
        return f"this is the wrong length for {label}{layout}"
    if isinstance(complaint, stdnum_errors.InvalidFormat):
        return f"this has characters or a layout that {label} does not have{layout}"
    return f"part of this number is never issued in {label}"


def _eu_vat(cleaned: str) -> _Finding:
    prefix = cleaned[:2]
    if len(prefix) < 2 or not (prefix.isalpha() and prefix.isascii()):
        reason = "an EU VAT number begins with its country code (DE, FR, NL, ...; EL for Greece)"
        countries = sorted(_country_name(c.upper()) for c in _eu_vat_countries_for(cleaned))
        if countries:
            reason += f"; as written it would fit a VAT number of {' or '.join(countries[:3])}"
        return _Finding(None, [reason])
    if prefix == "GB":
        return _Finding(None, ["UK VAT numbers (GB) are not EU VAT numbers since Brexit: declare it as gb_vat"])
    if prefix in ("EU", "IM"):
        return _Finding(
            None,
            [
                "a number beginning EU or IM is a One-Stop-Shop registration for selling into the EU, not a member "
                "state's VAT number; ask for the customer's own VAT number"
            ],
        )
    if prefix not in EU_VAT_PREFIXES:
        shown = prefix if len(cleaned) > 4 else "its country code"  # a prefix alone would be the whole value
        return _Finding(None, [f"this begins with {shown}, which is not the country code of an EU member state"])
    normalised, complaint = _stdnum("eu_vat", cleaned)
    finding = _Finding(normalised)
    if complaint is not None:
        label = f"a VAT number of {_country_name(prefix)}"
        finding.reasons.append(_complaint_reason(label, complaint, ""))
    if prefix == "GR":
        finding.warnings.append("Greek VAT numbers are written with EL, not GR; VIES knows them as EL")
    return finding


def _eu_vat_countries_for(cleaned: str) -> list[str]:
    try:
        return list(_module("eu_vat").guess_country(cleaned))
    except stdnum_errors.ValidationError:
        return []


def _gb_vat(cleaned: str) -> _Finding:
    prefix = cleaned[:2]
    if prefix in EU_VAT_PREFIXES and prefix != "XI":
        shown = prefix if len(cleaned) > 4 else "a country code"  # a prefix alone would be the whole value
        return _Finding(None, [f"this begins with {shown} like an EU VAT number: declare it as eu_vat"])
    normalised, complaint = _stdnum("gb_vat", cleaned)
    finding = _Finding(normalised)
    if isinstance(complaint, stdnum_errors.InvalidComponent):
        finding.reasons.append(
            "a UK VAT number of a government department is GD000 to GD499 and of a health authority HA500 to "
            "HA999; this one is neither"
        )
    elif complaint is not None:
        layout = ", which has nine digits (GB XXX XXXX XX), or twelve with a branch number"
        finding.reasons.append(_complaint_reason("a UK VAT number", complaint, layout))
    return finding


def _gb_utr(cleaned: str) -> _Finding:
    if len(cleaned) == 11 and cleaned.endswith("K") and cleaned[:10].isdigit():
        cleaned = cleaned[:10]  # Self Assessment payment references are the UTR and a K
    normalised, complaint = _stdnum("gb_utr", cleaned)
    finding = _Finding(normalised)
    if isinstance(complaint, stdnum_errors.InvalidChecksum):
        finding.reasons.append(
            "the first digit of a UTR is a check digit and does not match the other nine: a digit is mistyped "
            "or two are swapped"
        )
    elif complaint is not None:
        finding.reasons.append(_complaint_reason("a UTR", complaint, ", which has ten digits"))
    return finding


def _ca_bn(cleaned: str) -> _Finding:
    normalised, complaint = _stdnum("ca_bn", cleaned)
    finding = _Finding(normalised)
    if isinstance(complaint, stdnum_errors.InvalidChecksum):
        finding.reasons.append(
            "the ninth digit of a Business Number is a check digit and does not match the first eight: a digit "
            "is mistyped or two are swapped"
        )
    elif isinstance(complaint, stdnum_errors.InvalidComponent):
        finding.reasons.append(
            "the program identifier of a Business Number (after its nine digits) is RC, RM, RP or RT"
        )
    elif complaint is not None:
        layout = ", which has nine digits, or fifteen characters as a program account (nine digits, RT, four digits)"
        finding.reasons.append(_complaint_reason("a Canadian Business Number", complaint, layout))
    if normalised is not None and not finding.reasons:
        if len(normalised) == 15:
            program = CA_BN_PROGRAMS[normalised[9:11]]
            finding.warnings.append(
                f"a program account number (BN15, {program} account); the Business Number is its first nine digits"
            )
        else:
            finding.warnings.append("a 9-digit Business Number (BN9), without a program account")
    return finding


_RULES = {
    "ein": _ein,
    "ssn": _ssn,
    "itin": _itin,
    "eu_vat": _eu_vat,
    "gb_vat": _gb_vat,
    "gb_utr": _gb_utr,
    "ca_bn": _ca_bn,
}


def _check_classification(kind: str, classification: str | None, legal_name: str | None, finding: _Finding) -> None:
    """An SSN or ITIN identifies a person: a business classed as a corporation files under its EIN."""
    given = classification.strip().lower() if classification else None
    name = " ".join(legal_name.split()) if legal_name else None
    known = CORPORATE_CLASSIFICATIONS | INDIVIDUAL_CLASSIFICATIONS | OTHER_CLASSIFICATIONS
    if given is not None and given not in known:
        finding.warnings.append(
            f"the classification {given[:40]!r} is not a W-9 box ({', '.join(sorted(known))}); "
            "the TIN was checked without it"
        )
        given = None
    if kind not in ("ssn", "itin"):
        return
    label = _LABELS[kind]
    inferred = classification_from_name(name)
    if given in CORPORATE_CLASSIFICATIONS:
        phrase = _CLASSIFICATION_PHRASES[given]
        subject = f"{name} is {phrase} and files" if name else f"{phrase} files"
        finding.reasons.append(f"{label} identifies a person; {subject} under its EIN")
    elif given in INDIVIDUAL_CLASSIFICATIONS and inferred is not None:
        finding.warnings.append(
            f"the W-9 classification is {_CLASSIFICATION_PHRASES[given]}, but the legal name {name} reads as "
            f"{_CLASSIFICATION_PHRASES[inferred]}'s: check which box the W-9 ticks"
        )
    elif given is None and inferred == "llc":
        finding.warnings.append(
            f"{label} identifies a person; {name} is an LLC, which files under its EIN unless it is a "
            "single-member LLC disregarded for tax (the W-9's first box)"
        )
    elif given is None and inferred is not None:
        finding.reasons.append(
            f"{label} identifies a person; {name} is {_CLASSIFICATION_PHRASES[inferred]} and files under its EIN"
        )
