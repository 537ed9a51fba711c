"""Format and check-digit rules for the TIN types a customer may declare (python-stdnum).

The IRS issuance rules python-stdnum does not cover (EIN prefixes, SSN areas, ITIN groups) belong to the
onboarding validator and build on `normalise_tin`.
"""

from __future__ import annotations

import importlib

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


def normalise_tin(tin_type: str, value: str) -> str:
    """The TIN in its compact canonical form; ValidationError with the reason if it cannot be one."""
    module_name = TIN_TYPES.get(tin_type)
    if module_name is None:
        raise ValidationError(f"tin_type {tin_type!r} is not one of {', '.join(TIN_TYPES)}")
    module = importlib.import_module(module_name)
    try:
        return str(module.validate(value))
    except stdnum_errors.InvalidLength as exc:
        raise ValidationError(f"{tin_type.upper()} has the wrong length") from exc
    except stdnum_errors.InvalidChecksum as exc:
        raise ValidationError(f"{tin_type.upper()} fails its check digit") from exc
    except stdnum_errors.InvalidComponent as exc:
        raise ValidationError(f"{tin_type.upper()} has a part that is never issued") from exc
    except stdnum_errors.ValidationError as exc:
        raise ValidationError(f"{tin_type.upper()} is not valid: {exc}") from exc
