"""Format and check-digit rules for the TIN types a customer may declare (python-stdnum).

The IRS issuance rules python-stdnum does not cover (EIN prefixes, SSN areas, ITIN groups) belong to the
onboarding validator and build on `normalise_tin`.
"""

from __future__ import annotations

from types import ModuleType

from stdnum import exceptions as stdnum_errors
from stdnum.ca import bn
from stdnum.eu import vat as eu_vat
from stdnum.gb import utr
from stdnum.gb import vat as gb_vat
from stdnum.us import ein, itin, ssn

from shared.errors import ValidationError

TIN_TYPES: dict[str, ModuleType] = {
    "ein": ein,
    "ssn": ssn,
    "itin": itin,
    "eu_vat": eu_vat,
    "gb_vat": gb_vat,
    "gb_utr": utr,
    "ca_bn": bn,
}


def normalise_tin(tin_type: str, value: str) -> str:
    """The TIN in its compact canonical form; ValidationError with the reason if it cannot be one."""
    module = TIN_TYPES.get(tin_type)
    if module is None:
        raise ValidationError(f"tin_type {tin_type!r} is not one of {', '.join(TIN_TYPES)}")
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
