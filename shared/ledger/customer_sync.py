"""Merging an imported customer row into the stored customer.

Empty cells mean "unknown" and keep what is stored. A TIN or AP email that fails its check is stored
anyway (the ERP is the source of the master data) and flags the customer `needs_attention` with the
reason; a change of TIN or AP email sends an active customer back through validation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from shared.data.tables import ContactMap, CustomerRecord
from shared.errors import ValidationError
from shared.ledger.rows import CustomerRow
from shared.onboarding.email_rules import check_ap_email_offline
from shared.onboarding.tin_rules import normalise_tin
from shared.onboarding.workflow import plan_first_invitation, plan_revalidation
from shared.security.tin_vault import TinVault

AP_CONTACT_ID = "ap"
_SIMPLE_FIELDS = ("legal_name", "dba_name", "country", "phone", "timezone", "currency", "terms_days")


@dataclass
class CustomerMerge:
    record: CustomerRecord
    created: bool
    changed: bool
    warnings: list[str] = field(default_factory=list)
    tin_shared_with: list[str] = field(default_factory=list)


def merge_customer(
    row: CustomerRow,
    existing: CustomerRecord | None,
    vault: TinVault,
    tin_owners: Callable[[str], list[str]],
    now: datetime,
) -> CustomerMerge:
    """`tin_owners` answers which customers already hold a TIN fingerprint."""
    record = existing or CustomerRecord(row.customer_id, created_at=now, updated_at=now, origin="erp")
    before = record.serialize() if existing else None
    warnings: list[str] = []
    reasons: list[str] = []

    for name in _SIMPLE_FIELDS:
        value = getattr(row, name)
        if value is not None:
            setattr(record, name, value)
    if row.segment is not None and not record.segment_pinned:
        record.segment = row.segment

    tin_changed, tin_shared_with = _merge_tin(record, row, vault, tin_owners, reasons)
    master_data_changed = _merge_ap_email(record, row, reasons, warnings) or tin_changed
    # A column left empty says nothing new: the reasons it raised before still stand.
    kept = [r for r in (existing.onboarding_reasons if existing else []) if _reason_field(r) in _unknown(row)]
    reasons = list(dict.fromkeys(kept + reasons))
    # Warn about what is new; a reason the customer already carried was reported when it arose.
    previous = set(existing.onboarding_reasons) if existing else set()
    warnings = [r for r in reasons if r not in previous] + warnings
    record.onboarding_reasons = reasons
    if reasons:
        record.onboarding_status = "needs_attention"
    elif existing is None or master_data_changed or record.onboarding_status == "needs_attention":
        # Awaiting the onboarding workflow (TIN rules, DNS, the verification click).
        record.onboarding_status = "submitted"

    if existing is None and record.ap_email:
        # New from the ERP without verified master data: invited to confirm it in the portal (a day later).
        plan_first_invitation(record, now)
    elif existing is not None and master_data_changed and not reasons:
        # A changed TIN or AP email is validated again (the hourly onboarding sweep starts it).
        plan_revalidation(record, now)

    changed = before is None or record.serialize() != before
    if changed:
        record.updated_at = now
    return CustomerMerge(
        record=record, created=existing is None, changed=changed, warnings=warnings, tin_shared_with=tin_shared_with
    )


def shared_tin_reason(other_customer_id: str) -> str:
    return f"tin: the same TIN belongs to customer {other_customer_id}"


def flag_shared_tin(record: CustomerRecord, other_customer_id: str, now: datetime) -> bool:
    """Mark a customer whose TIN a newly imported customer also claims; True if that changed it."""
    reason = shared_tin_reason(other_customer_id)
    if reason in record.onboarding_reasons:
        return False
    record.onboarding_reasons = [*record.onboarding_reasons, reason]
    record.onboarding_status = "needs_attention"
    record.updated_at = now
    return True


def compact_tin(tin_type: str | None, tin: str) -> tuple[str, str | None]:
    """The TIN as fingerprinted and stored, and why it fails its check (None when it passes)."""
    if tin_type is None:
        return tin, "tin: given without tin_type (say which kind: ein, ssn, itin, eu_vat, ...)"
    try:
        return normalise_tin(tin_type, tin), None
    except ValidationError as exc:
        return "".join(ch for ch in tin if ch.isalnum()), f"tin: {exc.message}"


def tin_fingerprint_input(tin_type: str | None, compact: str) -> str:
    return f"{tin_type}:{compact}"


def row_fingerprint(row: CustomerRow, existing: CustomerRecord | None, vault: TinVault) -> str | None:
    """The fingerprint a customer row's TIN will have, before merging (to read its claim up front)."""
    if row.tin is None:
        return None
    tin_type = row.tin_type or (existing.tin_type if existing else None)
    return vault.fingerprint(tin_fingerprint_input(tin_type, compact_tin(tin_type, row.tin)[0]))


def _reason_field(reason: str) -> str:
    return reason.split(":", 1)[0].split(" ", 1)[0]


def _unknown(row: CustomerRow) -> set[str]:
    return {name for name in ("tin", "ap_email") if getattr(row, name) is None}


def _merge_tin(
    record: CustomerRecord,
    row: CustomerRow,
    vault: TinVault,
    tin_owners: Callable[[str], list[str]],
    reasons: list[str],
) -> tuple[bool, list[str]]:
    """Returns whether the TIN changed and which other customers hold the same TIN."""
    if row.tin_type is not None:
        record.tin_type = row.tin_type
    if row.tin is None:
        return False, []
    compact, reason = compact_tin(record.tin_type, row.tin)
    if reason:
        reasons.append(reason)
    fingerprint = vault.fingerprint(tin_fingerprint_input(record.tin_type, compact))
    others = sorted(c for c in tin_owners(fingerprint) if c != record.customer_id)
    reasons.extend(shared_tin_reason(other) for other in others)
    if fingerprint == record.tin_fingerprint:
        return False, others
    record.tin_fingerprint = fingerprint
    record.tin_ciphertext = vault.encrypt(compact, record.customer_id)
    record.tin_last4 = compact[-4:]
    return True, others


def _merge_ap_email(record: CustomerRecord, row: CustomerRow, reasons: list[str], warnings: list[str]) -> bool:
    if row.ap_email is None:
        if not record.contacts:
            reasons.append("ap_email: none given, so no reminder can be sent")
        return False
    try:
        check = check_ap_email_offline(row.ap_email)
        address, notes, state = check.normalised, check.warnings, "unverified"
    except ValidationError as exc:
        reasons.append(exc.message)
        address, notes, state = row.ap_email.strip(), [exc.message], "invalid"
    current = next((c for c in record.contacts if c.contact_id == AP_CONTACT_ID), None)
    if current is not None and current.email == address:
        return False
    warnings.extend(f"ap_email {address}: {note}" for note in notes if state != "invalid")
    others = [c for c in record.contacts if c.contact_id != AP_CONTACT_ID]
    ap_contact = ContactMap(
        contact_id=AP_CONTACT_ID,
        role="ap",
        email=address,
        email_state=state,
        email_warnings=notes,
        phone=row.phone,
    )
    record.contacts = [ap_contact, *others]
    # Only a usable address is a lookup key for portal links.
    record.ap_email = address if state != "invalid" else None
    return True
