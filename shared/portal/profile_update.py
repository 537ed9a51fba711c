"""A customer updates its master data in the portal (`PUT /portal/me`): each field is checked here as the import
checks it (TIN rules, AP email, country, timezone, phone), and the account goes back to `submitted` so the
onboarding validation runs again (shared/onboarding/workflow.py, started by the route). A TIN is encrypted
before it is stored, its fingerprint claimed in the same transaction ("one TIN, one customer"), and it never
appears in an answer, a log or an activity: only its last four characters are kept in clear.

A change the checks refuse is a 422 naming the field and why, and nothing is written."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.data.binding import shared_connection
from shared.data.tables import ActivityRecord, ContactMap, CustomerRecord, TinClaimRecord
from shared.errors import ConflictError, ValidationError
from shared.onboarding.email_rules import check_ap_email_offline
from shared.onboarding.phone_rules import normalise_phone
from shared.onboarding.tin_rules import normalise_tin
from shared.portal.models import ProfileUpdate
from shared.security.tin_vault import TinVault

AP_CONTACT_ID = "ap"
OTHER_TIN_HOLDER = "tin: the same TIN is registered to another account; our team will contact you"


@dataclass(frozen=True)
class ProfileChange:
    customer: CustomerRecord
    changed: list[str]


def _text(name: str, value: str) -> str:
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise ValidationError(f"{name}: control characters are not allowed")
    return value


@cache
def _countries() -> frozenset[str]:
    from babel import Locale

    return frozenset(str(code) for code in Locale("en").territories if str(code).isalpha() and len(str(code)) == 2)


@cache
def _timezones() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones())


def _problems(update: ProfileUpdate, customer: CustomerRecord) -> list[str]:
    problems = []
    if update.country is not None and update.country.upper() not in _countries():
        problems.append(f"country: {update.country!r} is not an ISO 3166 country code")
    if update.timezone is not None and update.timezone not in _timezones():
        problems.append("timezone: not an IANA timezone such as America/New_York")
    if update.tin is not None and (update.tin_type or customer.tin_type) is None:
        problems.append("tin: say which kind it is (tin_type)")
    return problems


# The onboarding workflow writes the customer while it checks it: a save that meets one of its writes is
# read and applied again, and only a customer changing faster than this is told to try again.
SAVE_ATTEMPTS = 4


def update_profile(customer_id: str, update: ProfileUpdate, vault: TinVault, now: datetime) -> ProfileChange:
    for _ in range(SAVE_ATTEMPTS - 1):
        try:
            return _update_once(customer_id, update, vault, now)
        except _Changed:
            continue
    try:
        return _update_once(customer_id, update, vault, now)
    except _Changed as exc:
        raise ConflictError("Your account changed while this was saved; try again.") from exc


class _Changed(Exception):
    """The customer was written between our read and our transaction."""


def _update_once(customer_id: str, update: ProfileUpdate, vault: TinVault, now: datetime) -> ProfileChange:
    given = update.model_dump(exclude_unset=True, exclude_none=True)
    if not given:
        raise ValidationError("nothing to update: give at least one field")
    try:
        customer = CustomerRecord.get(customer_id, consistent_read=True)
    except CustomerRecord.DoesNotExist:
        raise ValidationError("your account is not known any more") from None
    problems = _problems(update, customer)
    for name in ("legal_name", "dba_name"):
        value = getattr(update, name)
        if value is not None:
            try:
                _text(name, value)
            except ValidationError as exc:
                problems.append(exc.message)
    tin_type = update.tin_type.value if update.tin_type is not None else customer.tin_type
    compact_tin = None
    if update.tin is not None and tin_type is not None:
        try:
            compact_tin = normalise_tin(tin_type, update.tin)
        except ValidationError as exc:
            problems.append(f"tin: {exc.message}")
    address = None
    if update.ap_email is not None:
        try:
            address = check_ap_email_offline(update.ap_email).normalised
        except ValidationError as exc:
            problems.append(exc.message.split(": ", 1)[0] + ": not a usable address")
    phone = None
    if update.phone is not None:
        try:
            phone = normalise_phone(update.phone, (update.country or customer.country or "US").upper())
        except ValidationError as exc:
            problems.append(exc.message)
    if problems:
        raise ValidationError("Some of the details cannot be accepted.", problems)

    changed: list[str] = []
    reasons = list(customer.onboarding_reasons or [])
    for name in ("legal_name", "dba_name", "timezone"):
        value = getattr(update, name)
        if value is not None and value != getattr(customer, name):
            setattr(customer, name, value)
            changed.append(name)
    if update.country is not None and update.country.upper() != customer.country:
        customer.country = update.country.upper()
        changed.append("country")
    if update.tin_type is not None and tin_type != customer.tin_type:
        customer.tin_type = tin_type
        changed.append("tin_type")
    old_fingerprint = customer.tin_fingerprint
    new_claim: TinClaimRecord | None = None
    if compact_tin is not None:
        fingerprint = vault.fingerprint(f"{tin_type}:{compact_tin}")
        if fingerprint != old_fingerprint:
            customer.tin_fingerprint = fingerprint
            customer.tin_ciphertext = vault.encrypt(compact_tin, customer_id)
            customer.tin_last4 = compact_tin[-4:]
            changed.append("tin")
            new_claim = _claim(fingerprint, now)
            reasons = [r for r in reasons if not r.startswith("tin")]
            if new_claim.holders() - {customer_id}:
                reasons.append(OTHER_TIN_HOLDER)
    contacts = list(customer.contacts or [])
    ap = next((c for c in contacts if c.contact_id == AP_CONTACT_ID), None)
    if address is not None and (ap is None or ap.email != address):
        ap = ContactMap(
            contact_id=AP_CONTACT_ID,
            role="ap",
            email=address,
            email_state="pending",
            phone=ap.phone if ap is not None else None,
        )
        contacts = [ap, *[c for c in contacts if c.contact_id != AP_CONTACT_ID]]
        customer.ap_email = address
        changed.append("ap_email")
        reasons = [r for r in reasons if not r.startswith("ap_email")]
    if phone is not None and (ap is None or ap.phone != phone):
        if ap is None:
            ap = ContactMap(contact_id=AP_CONTACT_ID, role="ap", phone=phone)
            contacts = [ap, *contacts]
        else:
            ap.phone = phone
        changed.append("phone")
    customer.contacts = contacts
    if not changed:
        return ProfileChange(customer=customer, changed=[])
    customer.onboarding_reasons = reasons
    customer.onboarding_status = "needs_attention" if reasons else "submitted"
    customer.updated_at = now
    activity = ActivityRecord(
        customer_id,
        f"{now.isoformat()}#onboarding#profile",
        kind="onboarding",
        invoice_ids=[],
        summary=f"Master data updated in the portal: {', '.join(changed)}; validation starts again",
        details={"fields": changed},
        actor="customer",
        occurred_at=now,
    )
    try:
        with TransactWrite(connection=shared_connection()) as tx:
            tx.save(customer)
            tx.save(activity)
            if new_claim is not None:
                tx.update(
                    new_claim,
                    actions=[TinClaimRecord.customer_ids.add({customer_id}), TinClaimRecord.updated_at.set(now)],
                )
                old_claim = _claim(old_fingerprint, now) if old_fingerprint else None
                if old_claim is not None and customer_id in old_claim.holders():
                    tx.update(old_claim, actions=[TinClaimRecord.customer_ids.delete({customer_id})])
    except TransactWriteError as exc:
        raise _Changed() from exc
    return ProfileChange(customer=customer, changed=changed)


def _claim(fingerprint: str, now: datetime) -> TinClaimRecord:
    try:
        return TinClaimRecord.get(fingerprint, consistent_read=True)
    except TinClaimRecord.DoesNotExist:
        return TinClaimRecord(fingerprint, updated_at=now)
