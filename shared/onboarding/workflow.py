"""The onboarding workflow's steps (statemachines/onboarding.asl.json calls them through the onboarding_step
function) and what starts and ends it: a portal submission, a staff invitation, the verification click.

States (PRODUCT.md 1.2): invited → submitted → validating → awaiting_email_verification → active, or
needs_attention with reasons the customer sees in the portal and a task for the AR team.

Every master-data change is a new *revision* of the customer's onboarding, and every execution is started
for one revision: a step that finds the customer on a later revision raises `OnboardingSuperseded` and the
execution ends without touching it, so a slow or forgotten execution can never overwrite the outcome of a
newer one. A TIN registry or DNS outage raises `OnboardingRetryLater`: the workflow retries, then leaves
the customer `submitted` with a re-validation due (the hourly sweep starts it again) — pending, not failed.

Pure of the environment: time, the checks and the AWS side effects (mail, executions, task tokens) are
arguments.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pynamodb.exceptions import PutError, UpdateError

from shared.data.tables import (
    ActivityRecord,
    ContactMap,
    CustomerRecord,
    EmailVerificationRecord,
    TaskRecord,
    TinClaimRecord,
)
from shared.dunning.tasks import new_task
from shared.errors import NotFoundError, ValidationError

AP_CONTACT_ID = "ap"
ACTIVE = "active"
DUE_SHARD = "due"
# How long a verification link stays good (it is also the record's TTL).
VERIFICATION_TTL = timedelta(days=14)
# Invitations: the first one the day after an import (a bad import can be corrected before anyone is
# mailed), then a reminder every week, three at most.
INVITATION_DELAY = timedelta(days=1)
INVITATION_INTERVAL = timedelta(days=7)
INVITATION_REMINDERS = 3
# After an outage of DNS or a TIN registry the sweep tries the validation again this much later.
REVALIDATE_AFTER = timedelta(hours=1)
# A watchdog: while a validation runs, a re-validation stays due this long after its step (and, while the click
# is awaited, after both waits), so an execution that failed to start or died leaves no customer stuck.
WATCHDOG = timedelta(hours=1)
# Reasons other writers set (a bounce or complaint, shared/dunning/feedback.py): a validation keeps them.
VALIDATION_FIELDS = ("tin:", "ap_email:", "phone:", "onboarding:")
# Statuses in which a validation is running or waiting for the click.
IN_PROGRESS = frozenset({"submitted", "validating", "awaiting_email_verification"})

UNCONFIRMED = "ap_email: the verification link we emailed was not opened; open it or ask us for a new one"
CHECK_FAILED = "onboarding: the automatic checks could not finish; our team will look at your details"
NO_TIN = "tin: no TIN given yet: enter your taxpayer identification number"
NO_AP_EMAIL = "ap_email: no AP email address given yet"
OTHER_ACTIVE_HOLDER = "tin: the same TIN belongs to another active customer account; our team will contact you"
NON_ASCII_MAILBOX = (
    "ap_email: our email service cannot deliver to an address with letters outside the basic Latin alphabet "
    "before the @; give a plain-letter address for accounts payable"
)
NOT_IN_REGISTER = "tin: the tax authority's register does not know this number; check it against your registration"


class OnboardingSuperseded(Exception):
    """The customer moved on to a newer revision: this execution must leave it alone (ASL: → Superseded)."""


class OnboardingRetryLater(Exception):
    """A check could not be made now (DNS timeout, registry outage): never a verdict (ASL: Retry, then Pending)."""


class OnboardingMailer(Protocol):
    def send_verification(
        self, customer: CustomerRecord, address: str, url: str, reminder: bool, now: datetime
    ) -> None: ...

    def send_invitation(
        self, customer: CustomerRecord, address: str, url: str, reminder: bool, now: datetime
    ) -> None: ...


class Executions(Protocol):
    """The Step Functions calls onboarding makes."""

    def start(self, name: str, payload: dict[str, Any]) -> str: ...

    def stop(self, execution_arn: str) -> None: ...

    def succeed(self, task_token: str, output: dict[str, Any]) -> bool:
        """False when the task no longer waits (it timed out, or its execution ended)."""
        ...


@dataclass
class Checks:
    """How the validate step checks: `tin(tin_type, value, legal_name)` → TinVerdict, `registry(type,
    compact, country)` → the external result, `email(address)` → EmailVerdict, `phone(value, country)` → E.164
    (ValidationError when unusable), `decrypt(blob, customer_id)` → the TIN."""

    tin: Callable[..., Any]
    registry: Callable[[str, str, str | None], Any]
    email: Callable[[str], Any]
    phone: Callable[[str, str | None], str]
    decrypt: Callable[[bytes, str], str]


@dataclass(frozen=True)
class Validation:
    outcome: str  # needs_attention | verified | verify_email
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reasons": self.reasons, "warnings": self.warnings}


# --- helpers ---------------------------------------------------------------------------------------------


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _customer(customer_id: str) -> CustomerRecord:
    try:
        return CustomerRecord.get(customer_id, consistent_read=True)
    except CustomerRecord.DoesNotExist:
        raise NotFoundError(f"customer {customer_id} is not known") from None


def _current(customer_id: str, revision: int) -> CustomerRecord:
    customer = _customer(customer_id)
    if int(customer.onboarding_revision or 0) != int(revision):
        raise OnboardingSuperseded(
            f"customer {customer_id} is on revision {customer.onboarding_revision}, not {revision}"
        )
    return customer


def ap_contact(customer: CustomerRecord) -> ContactMap | None:
    return next((c for c in customer.contacts or [] if c.contact_id == AP_CONTACT_ID), None) or next(
        (c for c in customer.contacts or [] if c.email), None
    )


def masked_email(address: str) -> str:
    """a•••@example.com: enough for a clerk to recognise it, not enough to harvest it from a log."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def _activity(customer_id: str, now: datetime, what: str, summary: str, details: dict[str, Any]) -> ActivityRecord:
    return ActivityRecord(
        customer_id,
        f"{_stamp(now)}#onboarding#{what}#{secrets.token_hex(4)}",
        kind="onboarding",
        invoice_ids=[],
        summary=summary,
        details=details,
        actor="system",
        occurred_at=now,
    )


def _record(customer: CustomerRecord, now: datetime, what: str, summary: str, details: dict[str, Any]) -> None:
    """Save the customer, then say what happened on its timeline."""
    _save(customer, now, _activity(customer.customer_id, now, what, summary, details))


def _save(customer: CustomerRecord, now: datetime, *activities: ActivityRecord) -> None:
    customer.updated_at = now
    customer.save()
    for activity in activities:
        activity.save()


def _task(customer: CustomerRecord, reasons: list[str], now: datetime) -> None:
    """One open onboarding task per customer and revision (a retried step finds it already there)."""
    task_id = f"onboarding#{customer.customer_id}#{customer.onboarding_revision}"
    task = new_task(
        task_id,
        customer_id=customer.customer_id,
        kind="onboarding",
        invoice_ids=[],
        due=now.date().isoformat(),
        reason="Onboarding needs attention: " + "; ".join(reasons),
        now=now,
    )
    try:
        task.save(condition=TaskRecord.task_id.does_not_exist())
    except PutError as exc:
        if getattr(exc, "cause_response_code", "") != "ConditionalCheckFailedException":
            raise


def _set_due(customer: CustomerRecord, action: str | None, when: datetime | None) -> None:
    if action is None or when is None:
        customer.onboarding_due_action = None
        customer.onboarding_due_shard = None
        customer.onboarding_due_at = None
    else:
        customer.onboarding_due_action = action
        customer.onboarding_due_shard = DUE_SHARD
        customer.onboarding_due_at = _stamp(when)


def execution_name(customer_id: str, revision: int) -> str:
    """Unique per customer and revision, within Step Functions' 80 characters and alphabet whatever the id."""
    readable = re.sub(r"[^A-Za-z0-9_-]", "_", customer_id)[:40]
    digest = hashlib.sha256(customer_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{readable}-{digest}-r{revision}"[:80]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# --- starting -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    customer: CustomerRecord  # as saved when the execution started (status submitted)
    revision: int
    execution_arn: str


def should_validate(customer: CustomerRecord, changed: bool) -> bool:
    """After a portal save: a change always re-validates; details confirmed unchanged start a validation unless
    one is already running for them (validating, or waiting for the click) or the customer is active."""
    if changed:
        return True
    running = customer.onboarding_status in ("validating", "awaiting_email_verification")
    return customer.onboarding_status != ACTIVE and not (running and customer.onboarding_execution)


def start_validation(customer_id: str, now: datetime, executions: Executions, click_wait_s: int) -> Started:
    """A new revision and an execution for it; the previous execution (if any) is stopped — it would end as
    superseded anyway, but need not wait days for a click that can no longer count. A re-validation is due
    within the hour in the same write, so a start that fails is tried again by the sweep."""
    for _ in range(3):
        customer = _customer(customer_id)
        previous = customer.onboarding_execution
        customer.onboarding_revision = int(customer.onboarding_revision or 0) + 1
        customer.onboarding_status = "submitted"  # its reasons stand until the validation replaces them
        _set_due(customer, "revalidate", now + WATCHDOG)
        revision = int(customer.onboarding_revision)
        name = execution_name(customer_id, revision)
        try:
            _save(customer, now)
        except PutError:
            continue  # changed under us (version): read it again
        arn = executions.start(
            name, {"customer_id": customer_id, "revision": revision, "click_wait_s": max(1, int(click_wait_s))}
        )
        # Whatever else changed meanwhile, the ARN belongs to this revision (the next start stops it).
        with contextlib.suppress(UpdateError):
            customer.update(
                actions=[CustomerRecord.onboarding_execution.set(arn)],
                condition=CustomerRecord.onboarding_revision == revision,
                add_version_condition=False,
            )
        if previous and previous != arn:
            executions.stop(previous)
        return Started(customer, revision, arn)
    raise ValidationError(f"customer {customer_id} kept changing; try again")


# --- the steps ------------------------------------------------------------------------------------------


def validate(customer_id: str, revision: int, now: datetime, checks: Checks, click_wait_s: int = 0) -> Validation:
    """TIN (rules, registry, one active holder), AP email (syntax, lists, DNS, suppression), phone."""
    customer = _current(customer_id, revision)
    customer.onboarding_status = "validating"
    _set_due(customer, "revalidate", now + WATCHDOG)
    _save(customer, now)
    reasons: list[str] = []
    warnings: list[str] = []
    level = None
    checked_tin = customer.tin_fingerprint
    if customer.tin_ciphertext is None or not customer.tin_type:
        reasons.append(NO_TIN)
    else:
        tin = checks.decrypt(customer.tin_ciphertext, customer_id)
        verdict = checks.tin(customer.tin_type, tin, legal_name=customer.legal_name)
        del tin
        if not verdict.valid:
            reasons.extend(f"tin: {r}" for r in verdict.reasons)
        else:
            warnings.extend(f"tin: {w}" for w in verdict.warnings)
            level = "format_valid"
            external = checks.registry(customer.tin_type, verdict.normalised, customer.country)
            status = getattr(external, "status", str(external))
            if status == "unavailable":
                raise OnboardingRetryLater("the TIN registry is not answering")
            if status == "not_matched":
                reasons.append(NOT_IN_REGISTER)
            elif status == "matched":
                level = "externally_matched"
        if customer.tin_fingerprint and _other_active_holder(customer):
            reasons.append(OTHER_ACTIVE_HOLDER)
    contact = ap_contact(customer)
    checked_email = contact.email if contact is not None else None
    phone, email_warnings = None, None
    if contact is None or not contact.email:
        reasons.append(NO_AP_EMAIL)
    else:
        email = checks.email(contact.email)
        if email.verdict == "retry_later":
            raise OnboardingRetryLater("DNS did not answer for the AP email's domain")
        if email.verdict != "valid":
            reasons.extend(f"ap_email: {r}" for r in email.reasons)
        elif not (email.normalised or "").rpartition("@")[0].isascii():
            # A valid address (RFC 6531), but SES delivers to none such: the verification email could not leave.
            reasons.append(NON_ASCII_MAILBOX)
        email_warnings = list(email.warnings) or None
        warnings.extend(f"ap_email: {w}" for w in email.warnings)
        if contact.phone:
            try:
                phone = checks.phone(contact.phone, customer.country)
            except ValidationError as exc:
                reasons.append(exc.message if exc.message.startswith("phone") else f"phone: {exc.message}")
    # Written onto the customer as it is now: an import, a bounce or a click may have come in while checking.
    customer = _current(customer_id, revision)
    fresh = ap_contact(customer)
    if customer.tin_fingerprint != checked_tin or (fresh.email if fresh is not None else None) != checked_email:
        # What was checked is not what is stored any more: the change that replaced it is validated on its own.
        _set_due(customer, "revalidate", now)
        _save(customer, now)
        raise OnboardingSuperseded(f"customer {customer_id} changed its TIN or AP email while it was checked")
    if fresh is not None:
        fresh.email_warnings = email_warnings
        if phone is not None:
            fresh.phone = phone
        customer.contacts = list(customer.contacts)
    others = [r for r in customer.onboarding_reasons or [] if not r.startswith(VALIDATION_FIELDS)]
    customer.tin_check = level
    if reasons or others:
        _needs_attention(customer, [*reasons, *others], now)
        return Validation("needs_attention", [*reasons, *others], warnings)
    assert fresh is not None
    verified = fresh.email_state == "verified"
    customer.onboarding_reasons = []
    customer.onboarding_status = "validating" if verified else "awaiting_email_verification"
    # The click may take both waits; the watchdog looks after the customer once they are over.
    _set_due(customer, "revalidate", now + 2 * timedelta(seconds=max(0, click_wait_s)) + WATCHDOG)
    _record(
        customer,
        now,
        "checked",
        "Master data passed the automatic checks",
        {"tin_check": level, "warnings": warnings, "revision": revision},
    )
    return Validation("verified" if verified else "verify_email", [], warnings)


def _other_active_holder(customer: CustomerRecord) -> bool:
    try:
        claim = TinClaimRecord.get(customer.tin_fingerprint, consistent_read=True)
    except TinClaimRecord.DoesNotExist:
        return False
    for other in sorted(claim.holders() - {customer.customer_id}):
        try:
            if CustomerRecord.get(other).onboarding_status == ACTIVE:
                return True
        except CustomerRecord.DoesNotExist:
            continue
    return False


def _needs_attention(customer: CustomerRecord, reasons: list[str], now: datetime) -> None:
    customer.onboarding_status = "needs_attention"
    customer.onboarding_reasons = list(dict.fromkeys(reasons))
    _set_due(customer, None, None)
    _record(
        customer,
        now,
        "needs_attention",
        "Onboarding needs attention: " + "; ".join(customer.onboarding_reasons),
        {"reasons": customer.onboarding_reasons, "revision": int(customer.onboarding_revision or 0)},
    )
    _task(customer, customer.onboarding_reasons, now)


def send_verification(
    customer_id: str,
    revision: int,
    task_token: str,
    reminder: bool,
    now: datetime,
    mailer: OnboardingMailer,
    portal_url: str,
) -> bool:
    """Email the AP address a one-time link; the execution waits on `task_token` until it is opened. False (no
    email) when the address is verified already — by a link of an earlier revision, say: the caller then
    answers the task token itself."""
    customer = _current(customer_id, revision)
    contact = ap_contact(customer)
    if contact is None or not contact.email:
        raise OnboardingSuperseded(f"customer {customer_id} has no AP address any more")
    if contact.email_state == "verified":
        return False
    if contact.email_state in ("bounced", "complained"):
        # The bounce or complaint re-opened onboarding already (shared/dunning/feedback.py): no more mail to it.
        raise OnboardingSuperseded(f"the AP address of customer {customer_id} {contact.email_state}")
    token = secrets.token_urlsafe(32)
    EmailVerificationRecord(
        token_hash(token),
        customer_id=customer_id,
        contact_id=contact.contact_id,
        email=contact.email,
        task_token=task_token,
        revision=revision,
        created_at=now,
        expires_at=int((now + VERIFICATION_TTL).timestamp()),
    ).save()
    # The contact's state is left as it is: an address the ERP gave stays "unverified" (it may still receive
    # sign-in links, shared/portal/access.py), one the customer typed is "pending" already.
    customer.onboarding_status = "awaiting_email_verification"
    customer.verification_pending = token_hash(token)  # the link whose click releases the waiting execution
    url = f"{portal_url.rstrip('/')}/onboarding/verify?token={token}"
    what = "A reminder of the verification email" if reminder else "A verification email"
    # Saved before the email leaves: a save that fails (the customer changed) is retried by the workflow, and
    # must not have sent a message first.
    _record(
        customer,
        now,
        "verification_sent",
        f"{what} went to {masked_email(contact.email)}",
        {"reminder": reminder, "revision": revision},
    )
    mailer.send_verification(customer, contact.email, url, reminder, now)
    return True


def activate(customer_id: str, revision: int, now: datetime) -> None:
    """Only a verified AP address activates, and only while no other active customer holds the TIN (checked
    again here: the click may come days after the validation)."""
    customer = _current(customer_id, revision)
    contact = ap_contact(customer)
    others = [r for r in customer.onboarding_reasons or [] if not r.startswith(VALIDATION_FIELDS)]
    if contact is None or contact.email_state != "verified" or others:
        _needs_attention(customer, others or [UNCONFIRMED], now)
        return
    if customer.tin_fingerprint and _other_active_holder(customer):
        _needs_attention(customer, [OTHER_ACTIVE_HOLDER], now)
        return
    customer.onboarding_status = ACTIVE
    customer.onboarding_reasons = []
    _set_due(customer, None, None)
    _record(
        customer,
        now,
        "active",
        "Onboarding complete: the account is active",
        {"tin_check": customer.tin_check, "revision": revision},
    )
    _close_onboarding_tasks(customer_id, now)


def _close_onboarding_tasks(customer_id: str, now: datetime) -> None:
    """The AR team's onboarding tasks of earlier revisions are done once the customer is active."""
    for task in TaskRecord.customer_tasks_index.query(customer_id):
        if task.kind != "onboarding" or task.status != "open":
            continue
        with contextlib.suppress(UpdateError):
            TaskRecord(task.task_id).update(
                actions=[
                    TaskRecord.status.set("done"),
                    TaskRecord.outcome.set("activated"),
                    TaskRecord.closed_at.set(now),
                    TaskRecord.open_shard.remove(),
                ],
                condition=TaskRecord.status == "open",
            )


def unconfirmed(customer_id: str, revision: int, now: datetime) -> None:
    """The click never came, even after the reminder (unless a link of an earlier revision confirmed the same
    address meanwhile: then the customer is active after all)."""
    customer = _current(customer_id, revision)
    contact = ap_contact(customer)
    if contact is not None and contact.email_state == "verified":
        activate(customer_id, revision, now)
        return
    others = [r for r in customer.onboarding_reasons or [] if not r.startswith(VALIDATION_FIELDS)]
    _needs_attention(customer, [UNCONFIRMED, *others], now)


def pending(customer_id: str, revision: int, now: datetime) -> None:
    """A check could not be made even after retries: the customer waits (submitted) and the sweep tries again."""
    customer = _current(customer_id, revision)
    customer.onboarding_status = "submitted"
    _set_due(customer, "revalidate", now + REVALIDATE_AFTER)
    _record(
        customer,
        now,
        "pending",
        "The checks could not reach DNS or the tax registry: they run again within the hour",
        {"revision": revision},
    )


def failed(customer_id: str, revision: int, now: datetime) -> None:
    """Something unexpected stopped the checks: never silently — the AR team gets the task."""
    _needs_attention(_current(customer_id, revision), [CHECK_FAILED], now)


# --- the click ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Click:
    outcome: str  # confirmed | already_confirmed | invalid | expired | replaced
    customer_id: str | None = None


def confirm_email(token: str, now: datetime, executions: Executions, click_wait_s: int) -> Click:
    """`GET /onboarding/verify?token=…`: the AP address is verified and the waiting execution goes on — the one
    this link was sent for or, when that one no longer waits (the reminder went out, a newer revision took over),
    the one waiting now. A click after every wait ended (the customer needs attention for it) starts a new
    validation instead. Opening the link again finishes whatever a first opening could not."""
    if not token or len(token) > 200:
        return Click("invalid")
    try:
        record = EmailVerificationRecord.get(token_hash(token), consistent_read=True)
    except EmailVerificationRecord.DoesNotExist:
        return Click("invalid")
    first = record.confirmed_at is None
    if first and record.expires_at < now.timestamp():
        return Click("expired", record.customer_id)
    customer = _mark_verified(record, now)
    if customer is None:
        return Click("replaced", record.customer_id)
    if first:
        with contextlib.suppress(UpdateError):
            record.update(
                actions=[EmailVerificationRecord.confirmed_at.set(now)],
                condition=EmailVerificationRecord.confirmed_at.does_not_exist(),
            )
    _release(record, customer, now, executions, click_wait_s)
    return Click("confirmed" if first else "already_confirmed", record.customer_id)


def _mark_verified(record: EmailVerificationRecord, now: datetime) -> CustomerRecord | None:
    """The contact verified (idempotent); None when the customer's address is another one now."""
    for _ in range(5):
        customer = _customer(record.customer_id)
        contact = next((c for c in customer.contacts or [] if c.contact_id == record.contact_id), None)
        if contact is None or (contact.email or "").lower() != record.email.lower():
            return None
        if contact.email_state == "verified":
            return customer
        contact.email_state = "verified"
        contact.verified_at = now
        customer.contacts = list(customer.contacts)
        try:
            _record(
                customer,
                now,
                "email_verified",
                f"{masked_email(record.email)} confirmed as the AP address",
                {"revision": record.revision},
            )
            return customer
        except PutError:
            continue
    raise ValidationError("the account kept changing while the address was confirmed; open the link again")


def _release(
    record: EmailVerificationRecord, customer: CustomerRecord, now: datetime, executions: Executions, wait_s: int
) -> None:
    if record.task_token and executions.succeed(record.task_token, {"verified": True}):
        return
    pending = customer.verification_pending
    if pending and pending != record.token_hash:
        try:
            current = EmailVerificationRecord.get(pending, consistent_read=True)
        except EmailVerificationRecord.DoesNotExist:
            current = None
        if (
            current is not None
            and current.task_token
            and current.email.lower() == record.email.lower()
            and executions.succeed(current.task_token, {"verified": True})
        ):
            return
    stuck = customer.onboarding_status == "needs_attention" and set(customer.onboarding_reasons or []) <= {UNCONFIRMED}
    if stuck:
        start_validation(customer.customer_id, now, executions, wait_s)


# --- staff ----------------------------------------------------------------------------------------------


def record_tin_document(customer_id: str, now: datetime, by: str) -> str:
    """Staff checked the TIN against its document (a W-9, a VAT certificate): the check level becomes
    `document_verified` — unless a registry matched it already, which says more. Returns the level now."""
    for _ in range(5):
        customer = _customer(customer_id)
        if customer.tin_ciphertext is None:
            raise ValidationError(f"customer {customer_id} has no TIN to check against a document")
        if customer.tin_check != "externally_matched":
            customer.tin_check = "document_verified"
        try:
            _record(
                customer,
                now,
                "tin_document",
                f"TIN checked against its document by {by[:100]}",
                {"tin_check": customer.tin_check},
            )
        except PutError:
            continue
        return str(customer.tin_check)
    raise ValidationError(f"customer {customer_id} kept changing; try again")


# --- invitations ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    customer_id: str
    address: str
    reminder: bool
    next_at: datetime | None


def invite(
    customer_id: str,
    now: datetime,
    mailer: OnboardingMailer,
    link_for: Callable[[str], str],
    *,
    reminder: bool = False,
) -> Invitation:
    """Email the onboarding invitation (an onboarding-purpose portal link) to the AP address, and plan the
    next reminder. `link_for(customer_id)` signs the link. Staff may re-send at any time."""
    customer = _customer(customer_id)
    if customer.onboarding_status == ACTIVE:
        raise ValidationError(f"customer {customer_id} is already active: there is nothing to onboard")
    contact = ap_contact(customer)
    if contact is None or not contact.email:
        raise ValidationError(f"customer {customer_id} has no AP email address to invite")
    if contact.email_state in ("bounced", "complained"):
        raise ValidationError(
            f"the AP address of customer {customer_id} {contact.email_state}: correct it before inviting"
        )
    address = contact.email
    mailer.send_invitation(customer, address, link_for(customer_id), reminder, now)
    what = "An onboarding reminder" if reminder else "The onboarding invitation"
    # Sent: now it must be recorded, whatever else writes the customer meanwhile — a record lost here would
    # send the same invitation again next hour.
    for attempt in range(5):
        if attempt:
            customer = _customer(customer_id)
        sent = int(customer.invitations_sent or 0) + 1
        customer.invitations_sent = sent
        customer.invited_at = now
        next_at = now + INVITATION_INTERVAL if sent <= INVITATION_REMINDERS else None
        if customer.onboarding_due_action in (None, "invite", "remind"):
            _set_due(customer, "remind" if next_at else None, next_at)
        try:
            _save(customer, now)
            break
        except PutError:
            continue
    else:
        raise ValidationError(f"the invitation to customer {customer_id} went out but could not be recorded")
    _activity(
        customer_id,
        now,
        "invited",
        f"{what} went to {masked_email(address)}",
        {"reminder": reminder, "invitations_sent": sent},
    ).save()
    return Invitation(customer_id, address, reminder, next_at)


def plan_first_invitation(customer: CustomerRecord, now: datetime) -> None:
    """For an imported customer without verified master data: the invitation goes out a day later."""
    if customer.onboarding_status != ACTIVE and not customer.invitations_sent and not customer.onboarding_due_action:
        _set_due(customer, "invite", now + INVITATION_DELAY)


def plan_revalidation(customer: CustomerRecord, now: datetime) -> None:
    """For a customer whose TIN or AP email an import changed: the hourly sweep validates it again — unless its
    first invitation is still to go out (it leads to a submission, which is validated)."""
    if customer.onboarding_due_action != "invite":
        _set_due(customer, "revalidate", now)


def due_customers(now: datetime) -> Iterator[str]:
    """The customers whose onboarding work has come due (OnboardingDueIndex), oldest first, a page at a time."""
    found = CustomerRecord.onboarding_due_index.query(
        DUE_SHARD, CustomerRecord.onboarding_due_at <= _stamp(now), page_size=200
    )
    for record in found:
        yield record.customer_id


@dataclass(frozen=True)
class SweepItem:
    customer_id: str
    action: str
    outcome: str


def sweep_one(
    customer_id: str,
    now: datetime,
    mailer: OnboardingMailer,
    link_for: Callable[[str], str],
    executions: Executions,
    click_wait_s: int,
) -> SweepItem:
    customer = _customer(customer_id)
    action = customer.onboarding_due_action or ""
    if not customer.onboarding_due_at or customer.onboarding_due_at > _stamp(now):
        return SweepItem(customer_id, action, "not_due")
    if action == "revalidate":
        start_validation(customer_id, now, executions, click_wait_s)
        return SweepItem(customer_id, action, "started")
    if customer.onboarding_status == ACTIVE or customer.onboarding_status in (
        "validating",
        "awaiting_email_verification",
    ):
        _set_due(customer, None, None)
        _save(customer, now)
        return SweepItem(customer_id, action, "no_longer_needed")
    try:
        invite(customer_id, now, mailer, link_for, reminder=action == "remind")
    except ValidationError:
        customer = _customer(customer_id)
        _set_due(customer, None, None)
        _save(customer, now)
        return SweepItem(customer_id, action, "cannot_invite")
    return SweepItem(customer_id, action, "sent")


@dataclass
class SweepReport:
    items: list[SweepItem] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (customer id, error type): they stay due
    unfinished: bool = False  # stopped for time: the rest waits for the next hour

    @property
    def errors(self) -> int:
        return len(self.failures)


def sweep(
    now: datetime,
    mailer: OnboardingMailer,
    link_for: Callable[[str], str],
    executions: Executions,
    click_wait_s: int,
    keep_going: Callable[[], bool] = lambda: True,
) -> SweepReport:
    """Everything due, one customer at a time, while `keep_going()` (the function's remaining time); a customer
    that fails, or is not reached, stays due for the next sweep."""
    report = SweepReport()
    for customer_id in due_customers(now):
        if not keep_going():
            report.unfinished = True
            break
        try:
            report.items.append(sweep_one(customer_id, now, mailer, link_for, executions, click_wait_s))
        except Exception as exc:  # counted, retried next hour: one customer must not stop the rest
            report.failures.append((customer_id, type(exc).__name__))
    return report
