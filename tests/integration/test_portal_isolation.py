"""Issue 7's proof that one customer's portal is that customer's alone, over HTTP on a whole local system.

Every customer route, for each of two customers, refuses every token that is not a live session of its own: none,
garbage, forged, tampered, expired, signed out, revoked by staff, a link of another purpose, `alg: none` — each a
401 `unauthorized` that writes nothing. The bad tokens are built to be refused for one reason only: the forged and
`alg: none` ones carry the claims of a live session (only the signature stands in the way), the expired session is
a real one opened hours ago, the tampered ones keep their signature. A live session of one customer finds nothing of
the other's: their invoice and payment ids answer exactly like ids that do not exist, and no list of one holds an
id of the other.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from shared.data.tables import (
    ActivityRecord,
    CustomerRecord,
    InvoiceRecord,
    PaymentAttemptRecord,
    SessionRecord,
    TaskRecord,
)
from shared.portal import access
from shared.portal.service import portal_services
from shared.security.links import LinkSigner, SigningKey, SigningKeys
from tests.integration.portal_system import TODAY, Answer, PortalSystem, portal_system_fixture

pytestmark = pytest.mark.e2e

system_fixture = pytest.fixture(scope="module", name="system")(portal_system_fixture)

CUSTOMERS = ("ALPHA", "BETA")
INVOICES = {"ALPHA": ("A-1", "A-2", "A-3"), "BETA": ("B-1", "B-2")}
OPEN_INVOICE = {"ALPHA": "A-2", "BETA": "B-1"}
PAYMENT = {"ALPHA": "pa-alpha-1", "BETA": "pa-beta-1"}
NO_SUCH_INVOICE = "Z-404"
NO_SUCH_PAYMENT = "pa-nobody-1"
# Text no accepted request sends: found anywhere, a refused write got through.
REFUSED_TEXT = "refused-write-7f3a"


def other(customer: str) -> str:
    return "BETA" if customer == "ALPHA" else "ALPHA"


def now() -> dt.datetime:
    return portal_services().clock()


# --- the routes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {invoice} and {payment} stand for an id
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    @property
    def names_an_id(self) -> bool:
        return "{" in self.path or "{invoice}" in json.dumps(self.body)

    def call(self, system: PortalSystem, token: str | None, invoice: str, payment: str) -> Answer:
        path = self.path.format(invoice=invoice, payment=payment)
        body = json.loads(json.dumps(self.body).replace("{invoice}", invoice)) if self.body is not None else None
        return system.call(self.method, path, body, token=token)


ROUTES = (
    Route("GET", "/portal/me"),
    Route("PUT", "/portal/me", {"phone": "+12125550199", "dba_name": REFUSED_TEXT}),
    Route("GET", "/portal/invoices?status=all"),
    Route("GET", "/portal/invoices/{invoice}"),
    Route("GET", "/portal/invoices/{invoice}/pdf"),
    Route("GET", "/portal/statement"),
    Route("GET", "/portal/statement.pdf"),
    Route("POST", "/portal/invoices/{invoice}/notes", {"text": REFUSED_TEXT}),
    Route("POST", "/portal/invoices/{invoice}/disputes", {"reason": "other", "text": REFUSED_TEXT}),
    Route("POST", "/portal/invoices/{invoice}/promises", {"date": (TODAY + dt.timedelta(days=7)).isoformat()}),
    Route("POST", "/portal/payments", {"invoice_ids": ["{invoice}"]}),
    Route("GET", "/portal/payments/{payment}"),
    Route("GET", "/portal/timeline"),
    Route("POST", "/portal/logout"),
)
ID_ROUTES = tuple(route for route in ROUTES if route.names_an_id)
READ_ROUTES = tuple(route for route in ROUTES if route.method == "GET")


def by_name(routes: tuple[Route, ...]) -> list[Any]:
    return [pytest.param(route, id=str(route)) for route in routes]


# --- what a customer request can change ------------------------------------------------------------------


def footprint() -> dict[str, Any]:
    """Everything a portal request can write: activities, tasks, invoice and customer versions, sessions and
    their ends, payment attempts. Equal before and after a request: it wrote nothing."""
    return {
        "activities": sorted(a.activity_key for c in CUSTOMERS for a in ActivityRecord.query(c, consistent_read=True)),
        "tasks": sorted(t.task_id for t in TaskRecord.scan(consistent_read=True)),
        "invoices": {i.invoice_id: i.version for i in InvoiceRecord.scan(consistent_read=True)},
        "customers": {c.customer_id: c.version for c in CustomerRecord.scan(consistent_read=True)},
        "sessions": {s.session_id: s.revoked_at for s in SessionRecord.scan(consistent_read=True)},
        "payments": sorted(p.attempt_id for p in PaymentAttemptRecord.scan(consistent_read=True)),
    }


# --- tokens ----------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(_unb64(token.split(".")[1]))
    return claims


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def tampered(token: str, **changes: Any) -> str:
    """The token with claims edited and its signature kept."""
    header, _, signature = token.split(".")
    payload = _b64(json.dumps({**claims_of(token), **changes}, separators=(",", ":")).encode())
    return f"{header}.{payload}.{signature}"


def forged(token: str) -> str:
    """The token's very claims and key id, signed with a fresh key (one the system never had)."""
    key = SigningKey(kid=kid_of(token), secret=secrets.token_bytes(32))
    return jwt.encode(claims_of(token), key.secret, algorithm="HS256", headers={"kid": key.kid})


def forged_link(customer: str, kid: str, purpose: str = "portal") -> str:
    """A link as the system would make it, but made with a fresh key under the system's key id."""
    signer = LinkSigner(SigningKeys(current=SigningKey(kid=kid, secret=secrets.token_bytes(32))))
    return signer.issue(customer, purpose, now()).link_token


def unsigned(token: str) -> str:
    """The token's claims under `alg: none`, with no signature."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid_of(token)}).encode())
    return f"{header}.{token.split('.')[1]}."


def past_session(system: PortalSystem, customer: str, opened: dt.datetime) -> str:
    """A real session (recorded, never signed out) opened at `opened`."""
    return access.open_session(system.link(customer), portal_services().signer, opened).session_token


@pytest.fixture(scope="module")
def live(system: PortalSystem) -> dict[str, str]:
    """A live session of each customer, for the checks and the controls."""
    return {customer: system.session(customer) for customer in CUSTOMERS}


@pytest.fixture(scope="module")
def bad_tokens(system: PortalSystem, live: dict[str, str]) -> dict[str, dict[str, str | None]]:
    """Per customer, every kind of token a customer route must refuse (but staff revocation, made per test)."""
    kinds: dict[str, dict[str, str | None]] = {}
    for customer in CUSTOMERS:
        signed_out = system.session(customer)
        assert system.call("POST", "/portal/logout", token=signed_out).status == 204
        expired = past_session(system, customer, now() - dt.timedelta(hours=3))
        kinds[customer] = {
            "none": None,
            "garbage": "not-a-token",
            "forged": forged(live[customer]),
            "tampered customer": tampered(live[other(customer)], sub=customer),
            "tampered expiry": tampered(expired, exp=claims_of(expired)["exp"] + 86_400),
            "expired": expired,
            "signed out": signed_out,
            "portal link": system.link(customer, "portal"),
            "onboarding link": system.link(customer, "onboarding"),
            "email verification link": system.link(customer, "email_verification"),
            "alg none": unsigned(live[customer]),
        }
    return kinds


STAFF_REVOKED = "revoked by staff"
TOKEN_KINDS = (
    "none",
    "garbage",
    "forged",
    "tampered customer",
    "tampered expiry",
    "expired",
    "signed out",
    STAFF_REVOKED,
    "portal link",
    "onboarding link",
    "email verification link",
    "alg none",
)


@pytest.fixture
def revoke_access() -> Iterator[Callable[[str], None]]:
    """Staff revoke a customer's access as of 10 minutes ago, lifted after the test so it reaches no other (an
    expired session would be refused for it too). Tokens issued 20 minutes ago are then revoked ones."""
    revoked: list[str] = []

    def revoke(customer: str) -> None:
        access.revoke_access(customer, now() - dt.timedelta(minutes=10))
        revoked.append(customer)

    yield revoke
    for customer in revoked:
        record = CustomerRecord.get(customer, consistent_read=True)
        record.update(actions=[CustomerRecord.portal_access_revoked_at.remove()])


@pytest.fixture(scope="module")
def payments(system: PortalSystem) -> dict[str, str]:
    """A payment attempt of each customer, as the portal records one before Stripe is called."""
    moment = now()
    for customer, attempt_id in PAYMENT.items():
        PaymentAttemptRecord(
            attempt_id,
            customer_id=customer,
            invoice_ids=[OPEN_INVOICE[customer]],
            currency="USD",
            amount_minor=100,
            created_at=moment,
            updated_at=moment,
        ).save()
    return PAYMENT


@pytest.fixture(scope="module")
def unauthorized_answer(system: PortalSystem) -> bytes:
    answer = system.call("GET", "/portal/me")
    assert answer.status == 401
    return answer.body


# --- no token but a live session of its own customer ------------------------------------------------------


@pytest.mark.parametrize("route", by_name(ROUTES))
@pytest.mark.parametrize("kind", TOKEN_KINDS)
@pytest.mark.parametrize("customer", CUSTOMERS)
def test_a_customer_route_refuses_every_token_but_a_live_session_and_writes_nothing(
    system: PortalSystem,
    bad_tokens: dict[str, dict[str, str | None]],
    revoke_access: Callable[[str], None],
    payments: dict[str, str],
    unauthorized_answer: bytes,
    customer: str,
    kind: str,
    route: Route,
) -> None:
    if kind == STAFF_REVOKED:
        token: str | None = past_session(system, customer, now() - dt.timedelta(minutes=20))
        revoke_access(customer)
    else:
        token = bad_tokens[customer][kind]
    before = footprint() if route.writes else None

    answer = route.call(system, token, OPEN_INVOICE[customer], payments[customer])

    assert answer.status == 401, answer
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.body == unauthorized_answer
    if route.writes:
        assert footprint() == before


@pytest.mark.parametrize("route", by_name(READ_ROUTES))
@pytest.mark.parametrize("customer", CUSTOMERS)
def test_a_live_session_of_its_own_customer_is_let_through(
    system: PortalSystem, live: dict[str, str], payments: dict[str, str], customer: str, route: Route
) -> None:
    answer = route.call(system, live[customer], OPEN_INVOICE[customer], payments[customer])

    assert answer.status == 200, answer


# --- another customer's ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", by_name(ID_ROUTES))
@pytest.mark.parametrize("intruder", CUSTOMERS)
def test_another_customers_invoice_or_payment_is_not_found_exactly_like_one_that_does_not_exist(
    system: PortalSystem, live: dict[str, str], payments: dict[str, str], intruder: str, route: Route
) -> None:
    owner = other(intruder)
    before = footprint()

    theirs = route.call(system, live[intruder], OPEN_INVOICE[owner], payments[owner])
    unknown = route.call(system, live[intruder], NO_SUCH_INVOICE, NO_SUCH_PAYMENT)

    assert theirs.status == unknown.status == 404, theirs
    assert theirs.json()["error"]["code"] == "not_found"
    assert theirs.body == unknown.body
    assert footprint() == before


def test_the_invoice_lists_of_one_customer_never_hold_the_others_ids(
    system: PortalSystem, live: dict[str, str]
) -> None:
    for customer in CUSTOMERS:
        invoices = system.call("GET", "/portal/invoices?status=all&limit=100", token=live[customer]).json()

        assert sorted(i["invoice_id"] for i in invoices["invoices"]) == sorted(INVOICES[customer])


def test_a_statement_holds_only_its_own_customers_invoices(system: PortalSystem, live: dict[str, str]) -> None:
    for customer in CUSTOMERS:
        statement = system.call("GET", "/portal/statement", token=live[customer]).json()

        lines = [line["invoice_id"] for currency in statement["currencies"] for line in currency["lines"]]
        assert statement["customer_id"] == customer
        assert lines and set(lines) <= set(INVOICES[customer])


def test_a_timeline_holds_only_its_own_customers_activities(system: PortalSystem, live: dict[str, str]) -> None:
    # Given a note from each customer on one of its invoices
    notes = {customer: f"note of {customer} {secrets.token_hex(4)}" for customer in CUSTOMERS}
    for customer, text in notes.items():
        path = f"/portal/invoices/{OPEN_INVOICE[customer]}/notes"
        assert system.call("POST", path, {"text": text}, token=live[customer]).status == 201

    for customer in CUSTOMERS:
        # When the customer reads its timeline
        activities = system.call("GET", "/portal/timeline?limit=100", token=live[customer]).json()["activities"]

        # Then it finds its own note and nothing of the other's
        texts = [a["text"] for a in activities]
        assert notes[customer] in texts
        assert notes[other(customer)] not in texts
        assert all(set(a["invoice_ids"]) <= set(INVOICES[customer]) for a in activities)


def test_refused_notes_and_disputes_leave_no_trace_on_either_timeline(
    system: PortalSystem, live: dict[str, str], bad_tokens: dict[str, dict[str, str | None]]
) -> None:
    # Given notes and disputes refused, for a bad token or for another customer's invoice
    for customer in CUSTOMERS:
        for kind in ("forged", "alg none", "tampered customer"):
            for action, body in (("notes", {"text": REFUSED_TEXT}), ("disputes", {"reason": "other"})):
                path = f"/portal/invoices/{OPEN_INVOICE[customer]}/{action}"
                assert system.call("POST", path, body, token=bad_tokens[customer][kind]).status == 401
                theirs = f"/portal/invoices/{OPEN_INVOICE[other(customer)]}/{action}"
                assert system.call("POST", theirs, body, token=live[customer]).status == 404

    for customer in CUSTOMERS:
        # When each customer reads its timeline and its invoices
        timeline = system.call("GET", "/portal/timeline?limit=100", token=live[customer])
        invoices = system.call("GET", "/portal/invoices?status=all", token=live[customer]).json()["invoices"]

        # Then none of it is there
        assert REFUSED_TEXT not in timeline.body.decode()
        assert not [a for a in timeline.json()["activities"] if a["kind"] == "dispute"]
        assert not any(invoice["disputed"] for invoice in invoices)


# --- signing in from a link ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_links(system: PortalSystem, live: dict[str, str]) -> dict[str, str]:
    """Every kind of link POST /portal/session must refuse, each claiming ALPHA (but staff revocation)."""
    link = system.link("ALPHA")
    expired = portal_services().signer.issue("ALPHA", "portal", now() - dt.timedelta(days=30), dt.timedelta(days=1))
    return {
        "garbage": "not-a-token",
        "forged": forged_link("ALPHA", kid_of(link)),
        "tampered": tampered(system.link("BETA"), sub="ALPHA"),
        "expired": expired.link_token,
        "a session token": live["ALPHA"],
        "email verification link": system.link("ALPHA", "email_verification"),
        "alg none": unsigned(link),
    }


LINK_KINDS = (
    "garbage",
    "forged",
    "tampered",
    "expired",
    STAFF_REVOKED,
    "a session token",
    "email verification link",
    "alg none",
)


@pytest.mark.parametrize("kind", LINK_KINDS)
def test_a_bad_link_opens_no_session(
    system: PortalSystem, bad_links: dict[str, str], revoke_access: Callable[[str], None], kind: str
) -> None:
    if kind == STAFF_REVOKED:
        link = portal_services().signer.issue("ALPHA", "portal", now() - dt.timedelta(minutes=20)).link_token
        revoke_access("ALPHA")
    else:
        link = bad_links[kind]
    before = footprint()

    answer = system.call("POST", "/portal/session", {"link_token": link})

    assert answer.status == 401, answer
    assert answer.json()["error"]["code"] == "unauthorized"
    assert link not in answer.body.decode()
    assert footprint() == before


@pytest.mark.parametrize("customer", CUSTOMERS)
def test_an_onboarding_link_opens_a_session_of_its_customer(system: PortalSystem, customer: str) -> None:
    answer = system.call("POST", "/portal/session", {"link_token": system.link(customer, "onboarding")})

    assert answer.status == 200
    assert answer.json()["customer_id"] == customer
    assert system.call("GET", "/portal/me", token=answer.json()["session_token"]).json()["customer_id"] == customer
