"""Who may use the portal: signed links become short-lived sessions, sessions are checked on every customer
request, and staff can end a customer's access at once (PRODUCT.md 1.4).

- A link (made by a reminder, an invitation, `arcollect portal-link` or `POST /portal/links`) is an HS256 JWT
  scoped to one customer and one purpose (shared/security/links.py). Only `portal` and `onboarding` links open a
  session; an email-verification link does not.
- A session token is the same kind of JWT with purpose `session`, valid `SESSION_TTL`, whose id (jti) names a
  `SessionRecord`: signing out or a staff revocation ends it before it expires.
- Staff revocation stamps the customer; every link and session issued at or before that second is refused
  (tokens carry whole seconds, so the second of the revocation counts as before it).
- Every refusal is `Unauthorized` with a reason that names no token and no customer.

`POST /portal/links` answers the same, as fast, whether or not the address is known: the request counts against
the address's hourly allowance (known or not) and goes to a queue; a worker looks the address up and emails.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pynamodb.exceptions import UpdateError

from shared.data.tables import CustomerRecord, RateLimitRecord, SessionRecord
from shared.errors import NotFoundError, TooManyRequests, Unauthorized
from shared.security.links import LinkError, LinkSigner, portal_url

SESSION_PURPOSE = "session"
SESSION_TTL = timedelta(minutes=60)
SIGN_IN_PURPOSES = ("portal", "onboarding")
LINK_REQUESTS_PER_HOUR = 5
LINK_REQUEST_WINDOW = timedelta(hours=1)
# Addresses longer than this are no address (RFC 5321 caps a path at 256 octets).
MAX_EMAIL_CHARS = 320


@dataclass(frozen=True)
class Session:
    session_token: str = field(repr=False)
    expires_at: datetime
    customer_id: str
    session_id: str


@dataclass(frozen=True)
class Principal:
    """The customer a request acts for, as the authorizer established it."""

    customer_id: str
    session_id: str


@dataclass(frozen=True)
class PortalLink:
    url: str = field(repr=False)
    link_token: str = field(repr=False)
    expires_at: datetime


class LinkMailer(Protocol):
    def send_link(self, customer: CustomerRecord, address: str, link: PortalLink, now: datetime) -> None: ...


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _revoked(customer: CustomerRecord | None, issued_at: datetime) -> bool:
    revoked_at = customer.portal_access_revoked_at if customer is not None else None
    return revoked_at is not None and _epoch(issued_at) <= _epoch(revoked_at)


def _customer(customer_id: str) -> CustomerRecord | None:
    try:
        return CustomerRecord.get(customer_id, consistent_read=True)
    except CustomerRecord.DoesNotExist:
        return None


# --- links ---------------------------------------------------------------------------------------------


def issue_portal_link(
    customer_id: str, now: datetime, signer: LinkSigner, base_url: str, purpose: str = "portal"
) -> PortalLink:
    """A sign-in link for a known customer (support use, the demo, `POST /portal/links`)."""
    if _customer(customer_id) is None:
        raise NotFoundError(f"customer {customer_id} is not known")
    issued = signer.issue(customer_id, purpose, now)
    return PortalLink(
        url=portal_url(base_url, issued.link_token), link_token=issued.link_token, expires_at=issued.expires_at
    )


def revoke_access(customer_id: str, now: datetime) -> datetime:
    """End every link and session of the customer issued up to now. Returns the revocation instant."""
    customer = _customer(customer_id)
    if customer is None:
        raise NotFoundError(f"customer {customer_id} is not known")
    stamp = now.astimezone(UTC)
    customer.update(actions=[CustomerRecord.portal_access_revoked_at.set(stamp)])
    return stamp


# --- sessions ------------------------------------------------------------------------------------------


def open_session(link_token: str, signer: LinkSigner, now: datetime) -> Session:
    """Exchange a sign-in link for a session token."""
    claims = None
    for purpose in SIGN_IN_PURPOSES:
        try:
            claims = signer.verify(link_token, purpose, now)
            break
        except LinkError as exc:
            if "purpose" not in exc.message:
                raise Unauthorized(f"This sign-in link cannot be used: {exc.message}.") from None
    if claims is None:
        raise Unauthorized("This link is not a sign-in link.")
    customer = _customer(claims.customer_id)
    if customer is None or _revoked(customer, claims.issued_at):
        raise Unauthorized("This sign-in link is no longer valid: ask for a new one.")
    issued = signer.issue(claims.customer_id, SESSION_PURPOSE, now, ttl=SESSION_TTL)
    SessionRecord(
        issued.jti,
        customer_id=claims.customer_id,
        link_id=claims.jti,
        created_at=now,
        expires_at=_epoch(issued.expires_at),
    ).save()
    return Session(
        session_token=issued.link_token,
        expires_at=issued.expires_at,
        customer_id=claims.customer_id,
        session_id=issued.jti,
    )


def authorize(session_token: str, signer: LinkSigner, now: datetime) -> Principal:
    """The customer a session token acts for; Unauthorized for anything but a live session."""
    if not session_token:
        raise Unauthorized("Sign in: this route needs a session token (Authorization: Bearer …).")
    try:
        claims = signer.verify(session_token, SESSION_PURPOSE, now)
    except LinkError as exc:
        raise Unauthorized(f"The session token cannot be used: {exc.message}.") from None
    try:
        session = SessionRecord.get(claims.jti, consistent_read=True)
    except SessionRecord.DoesNotExist:
        raise Unauthorized("The session is not known: sign in again.") from None
    if session.customer_id != claims.customer_id:
        raise Unauthorized("The session token cannot be used: it does not match its session.")
    if session.revoked_at is not None:
        raise Unauthorized("The session has ended: sign in again.")
    if _revoked(_customer(claims.customer_id), claims.issued_at):
        raise Unauthorized("The session has ended: sign in again.")
    return Principal(customer_id=claims.customer_id, session_id=claims.jti)


def end_session(principal: Principal, now: datetime) -> None:
    """Sign out: the session's token is refused from now on."""
    SessionRecord(principal.session_id).update(
        actions=[SessionRecord.revoked_at.set(now.astimezone(UTC))],
        condition=SessionRecord.customer_id == principal.customer_id,
    )


# --- asking for a link by email address ------------------------------------------------------------------


def _address_key(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def take_link_request_allowance(address: str, now: datetime) -> None:
    """Count one request for `address` in the current hour; TooManyRequests beyond the limit. The count is
    per address whether or not it is known, so the limit itself reveals nothing."""
    window_start = _epoch(now) // int(LINK_REQUEST_WINDOW.total_seconds()) * int(LINK_REQUEST_WINDOW.total_seconds())
    key = f"portal-links#{_address_key(address)}#{window_start}"
    record = RateLimitRecord(key)
    try:
        record.update(
            actions=[
                RateLimitRecord.hits.add(1),
                RateLimitRecord.expires_at.set(window_start + int(LINK_REQUEST_WINDOW.total_seconds()) * 2),
            ],
            condition=RateLimitRecord.hits.does_not_exist() | (RateLimitRecord.hits < LINK_REQUESTS_PER_HOUR),
        )
    except UpdateError as exc:
        if _condition_failed(exc):
            retry_after = window_start + int(LINK_REQUEST_WINDOW.total_seconds()) - _epoch(now)
            raise TooManyRequests(
                f"Too many sign-in links were asked for this address; try again in {max(1, retry_after // 60)} "
                "minutes.",
                retry_after=max(1, retry_after),
            ) from None
        raise


def _condition_failed(exc: Exception) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


def normalise_address(address: str) -> str | None:
    """The address as the ledger stores AP emails (email-validator's form, lower-cased), or None if it is none."""
    from email_validator import EmailNotValidError, validate_email

    text = address.strip()
    if not text or len(text) > MAX_EMAIL_CHARS:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def customer_for_address(address: str) -> CustomerRecord | None:
    """The customer whose AP contact this address is, if that contact may receive sign-in links: verified by
    its click, or given by the seller's own ERP — never an address a customer typed that awaits verification,
    nor one that bounced."""
    for key in CustomerRecord.ap_email_index.query(address, limit=5):
        customer = _customer(key.customer_id)
        if customer is None or customer.ap_email != address:
            continue
        for contact in customer.contacts or []:
            if contact.email != address:
                continue
            if contact.email_state == "verified" or (contact.email_state == "unverified" and customer.origin == "erp"):
                return customer
    return None


class LinkRequestQueue(Protocol):
    def enqueue(self, address: str, requested_at: datetime) -> None: ...


def accept_link_request(address: str, now: datetime, queue: LinkRequestQueue) -> None:
    """`POST /portal/links`: count the request against the address's hourly allowance and queue it. Nothing here
    depends on whether the address is known, so neither the answer nor its timing can tell; the worker
    (`send_requested_link`) looks the address up and emails the link."""
    normalised = normalise_address(address)
    take_link_request_allowance(normalised or address.strip().lower()[:MAX_EMAIL_CHARS], now)
    if normalised is not None:
        queue.enqueue(normalised, now)


def send_requested_link(address: str, now: datetime, signer: LinkSigner, base_url: str, mailer: LinkMailer) -> bool:
    """Email a fresh sign-in link if `address` belongs to a contact that may have one; whether it did. A failure
    to send raises, so the queue tries again (and, in the end, keeps it in its dead-letter queue)."""
    customer = customer_for_address(address)
    if customer is None or customer.do_not_contact:
        return False
    link = issue_portal_link(customer.customer_id, now, signer, base_url)
    mailer.send_link(customer, address, link, now)
    return True
