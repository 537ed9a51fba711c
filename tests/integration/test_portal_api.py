"""The portal API over HTTP on a whole local system: signing in from a link, asking for a link by email, and what
a signed-in customer reads and does — each change on the timeline and in the dunning state at once."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from arcollect.local.outbox import read_outbox
from shared.clock import clock_for
from shared.data.tables import ActivityRecord, CustomerRecord, InvoiceRecord, SessionRecord, TaskRecord
from tests.integration.portal_system import TODAY, PortalSystem, start_portal_system

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalSystem]:
    started, finish = start_portal_system(tmp_path_factory.mktemp("portal-api"))
    try:
        yield started
    finally:
        finish()


@pytest.fixture(scope="module")
def alpha(system: PortalSystem) -> str:
    return system.session("ALPHA")


def outbox_to(system: PortalSystem, address: str) -> list[Any]:
    return read_outbox(system.state.region, to=address)


def wait_for_mail(system: PortalSystem, address: str, timeout: float = 20) -> list[Any]:
    """The link request queue's worker emails within a poll or two of the local system's queue poller."""
    deadline = time.monotonic() + timeout
    while not (messages := outbox_to(system, address)):
        assert time.monotonic() < deadline, f"no email to {address} within {timeout:.0f} s"
        time.sleep(0.2)
    return messages


# --- signing in ------------------------------------------------------------------------------------------


def test_a_link_becomes_a_session_of_sixty_minutes_for_its_customer(system: PortalSystem) -> None:
    answer = system.call("POST", "/portal/session", {"link_token": system.link("BETA")})

    assert answer.status == 200
    session = answer.json()
    assert session["customer_id"] == "BETA"
    expires = dt.datetime.fromisoformat(session["expires_at"])
    # Sixty minutes of the system's time (under a fixed today, the clock of shared/clock.py).
    assert dt.timedelta(minutes=59) < expires - clock_for(TODAY)() <= dt.timedelta(minutes=61)


def test_an_onboarding_invitation_opens_a_session_but_an_email_verification_link_does_not(system: PortalSystem) -> None:
    invited = system.call("POST", "/portal/session", {"link_token": system.link("BETA", "onboarding")})
    verification = system.call("POST", "/portal/session", {"link_token": system.link("BETA", "email_verification")})

    assert invited.status == 200
    assert verification.status == 401
    assert verification.json()["error"]["code"] == "unauthorized"


def test_the_answer_to_a_bad_link_names_neither_the_token_nor_a_customer(system: PortalSystem) -> None:
    token = system.link("ALPHA")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    answer = system.call("POST", "/portal/session", {"link_token": tampered})

    assert answer.status == 401
    assert tampered not in answer.body.decode()
    assert "ALPHA" not in answer.body.decode()


def test_signing_out_ends_the_session_at_once(system: PortalSystem) -> None:
    token = system.session("BETA")
    assert system.call("GET", "/portal/me", token=token).status == 200

    assert system.call("POST", "/portal/logout", token=token).status == 204

    assert system.call("GET", "/portal/me", token=token).status == 401


def test_staff_revocation_ends_every_session_and_link_issued_before_it(system: PortalSystem) -> None:
    from shared.portal.access import revoke_access
    from shared.portal.service import portal_services

    link = system.link("BETA")
    token = system.session("BETA")
    revoke_access("BETA", portal_services().clock())

    assert system.call("GET", "/portal/me", token=token).status == 401
    assert system.call("POST", "/portal/session", {"link_token": link}).status == 401
    CustomerRecord.get("BETA", consistent_read=True).update(actions=[CustomerRecord.portal_access_revoked_at.remove()])


def test_a_session_is_stored_by_id_with_its_customer_and_expiry_never_its_token(system: PortalSystem) -> None:
    session = system.call("POST", "/portal/session", {"link_token": system.link("ALPHA")}).json()

    records = [r for r in SessionRecord.scan() if r.customer_id == "ALPHA"]

    assert records
    assert all(session["session_token"] not in json.dumps(r.attribute_values, default=str) for r in records)


# --- asking for a link -----------------------------------------------------------------------------------


def test_a_known_address_gets_a_working_link_and_an_unknown_one_the_same_answer(system: PortalSystem) -> None:
    known = system.call("POST", "/portal/links", {"email": "AP@alpha.example.com"})
    unknown = system.call("POST", "/portal/links", {"email": "nobody@nowhere.example.com"})

    assert known.status == unknown.status == 202
    assert known.body == unknown.body
    [message] = wait_for_mail(system, "ap@alpha.example.com")
    assert not outbox_to(system, "nobody@nowhere.example.com")
    link = next(url for url in message.links if "?link=" in url)
    token = link.split("?link=", 1)[1]
    assert system.call("POST", "/portal/session", {"link_token": token}).json()["customer_id"] == "ALPHA"


def test_asking_too_often_for_one_address_is_refused_with_retry_after_known_or_not(system: PortalSystem) -> None:
    for address in ("ap@beta.example.com", "ghost@nowhere.example.com"):
        answers = [system.call("POST", "/portal/links", {"email": address}) for _ in range(6)]

        assert [a.status for a in answers] == [202] * 5 + [429]
        assert int(answers[-1].headers["Retry-After"]) > 0
        assert answers[-1].json()["error"]["code"] == "too_many_requests"


def test_a_malformed_address_gets_the_same_202(system: PortalSystem) -> None:
    answer = system.call("POST", "/portal/links", {"email": "not an address"})

    assert answer.status == 202


# --- reading ---------------------------------------------------------------------------------------------


def test_the_profile_shows_the_tin_masked_and_never_whole(system: PortalSystem, alpha: str) -> None:
    answer = system.call("GET", "/portal/me", token=alpha)

    assert answer.status == 200
    assert answer.json()["tin"] == "•••••6789"
    assert "123456789" not in answer.body.decode() and "12-3456789" not in answer.body.decode()


def test_invoices_are_filtered_by_status_and_paged_with_a_cursor(system: PortalSystem, alpha: str) -> None:
    open_ = system.call("GET", "/portal/invoices", token=alpha).json()
    paid = system.call("GET", "/portal/invoices?status=paid", token=alpha).json()
    first = system.call("GET", "/portal/invoices?status=all&limit=2", token=alpha).json()
    rest = system.call("GET", f"/portal/invoices?status=all&limit=2&cursor={first['next']}", token=alpha).json()

    assert [i["invoice_id"] for i in open_["invoices"]] == ["A-1", "A-2"]
    assert [i["invoice_id"] for i in paid["invoices"]] == ["A-3"]
    assert [i["invoice_id"] for i in first["invoices"] + rest["invoices"]] == ["A-3", "A-1", "A-2"]
    assert rest["next"] is None
    assert open_["invoices"][0]["days_past_due"] == (TODAY - dt.date(2026, 2, 4)).days


@pytest.mark.parametrize("cursor", ["%%%", "eyJ4Ijp7IlMiOiJ5In19", "A" * 2000])
def test_a_cursor_this_api_did_not_return_is_a_422(system: PortalSystem, alpha: str, cursor: str) -> None:
    answer = system.call("GET", f"/portal/invoices?cursor={cursor}", token=alpha)

    assert answer.status == 422


def test_the_statement_ages_the_open_balance_and_its_pdf_is_a_pdf(system: PortalSystem, alpha: str) -> None:
    statement = system.call("GET", "/portal/statement", token=alpha).json()
    pdf = system.call("GET", "/portal/statement.pdf", token=alpha)

    [usd] = statement["currencies"]
    assert usd["open_balance"] == "1500.50"
    assert usd["aging"] == {"current": "0.00", "1-30": "1500.50", "31-60": "0.00", "61-90": "0.00", "90+": "0.00"}
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]


def test_an_invoice_copy_is_a_pdf_named_after_its_number(system: PortalSystem, alpha: str) -> None:
    answer = system.call("GET", "/portal/invoices/A-1/pdf", token=alpha)

    assert answer.status == 200
    assert answer.body.startswith(b"%PDF")
    assert 'filename="invoice-1001.pdf"' in answer.headers["Content-Disposition"]


# --- doing -----------------------------------------------------------------------------------------------


def test_a_note_is_kept_as_the_customer_wrote_it_and_shows_on_the_timeline(system: PortalSystem, alpha: str) -> None:
    text = "<script>alert('x')</script> we paid by wire"

    answer = system.call("POST", "/portal/invoices/A-2/notes", {"text": text}, token=alpha)
    timeline = system.call("GET", "/portal/timeline", token=alpha).json()["activities"]

    assert answer.status == 201
    assert answer.json()["text"] == text
    assert any(a["kind"] == "note" and a["text"] == text for a in timeline)


def test_a_dispute_pauses_the_invoice_creates_a_task_and_cannot_be_opened_twice(
    system: PortalSystem, alpha: str
) -> None:
    answer = system.call(
        "POST", "/portal/invoices/A-1/disputes", {"reason": "damaged_or_defective", "amount": "200.00"}, token=alpha
    )
    again = system.call("POST", "/portal/invoices/A-1/disputes", {"reason": "other"}, token=alpha)

    assert answer.status == 201
    opened = answer.json()
    invoice = InvoiceRecord.get("A-1", consistent_read=True)
    assert invoice.dispute_id == opened["dispute_id"]
    task = TaskRecord.get(opened["task_id"], consistent_read=True)
    assert (task.kind, task.customer_id, list(task.invoice_ids)) == ("dispute", "ALPHA", ["A-1"])
    assert again.status == 409
    detail = system.call("GET", "/portal/invoices/A-1", token=alpha).json()
    assert detail["disputed"] is True
    assert detail["dispute"]["amount"] == "200.00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "because"}, "reason"),
        ({"reason": "other", "amount": "-5"}, "amount"),
        ({"reason": "other", "amount": "1.234"}, None),
        ({"reason": "other", "amount": "999999"}, None),
        ({"reason": "other", "extra": 1}, "extra"),
    ],
)
def test_a_bad_dispute_is_a_422_that_says_why(
    system: PortalSystem, alpha: str, body: dict[str, Any], field: str | None
) -> None:
    answer = system.call("POST", "/portal/invoices/A-2/disputes", body, token=alpha)

    assert answer.status == 422
    error = answer.json()["error"]
    if field is not None:
        assert any(d.get("field") == field for d in error["details"]), error
    assert InvoiceRecord.get("A-2", consistent_read=True).dispute_id is None


def test_a_promise_pauses_dunning_until_its_date_plus_grace(system: PortalSystem, alpha: str) -> None:
    when = TODAY + dt.timedelta(days=10)

    answer = system.call("POST", "/portal/invoices/A-2/promises", {"date": when.isoformat()}, token=alpha)

    assert answer.status == 201
    made = answer.json()
    assert made["dunning_resumes_on"] == (when + dt.timedelta(days=4)).isoformat()
    invoice = InvoiceRecord.get("A-2", consistent_read=True)
    assert invoice.promise_date == when.isoformat()
    assert invoice.next_action_date is None or invoice.next_action_date >= made["dunning_resumes_on"]
    kinds = [a.kind for a in ActivityRecord.query("ALPHA") if "A-2" in a.invoice_ids]
    assert "promise" in kinds


@pytest.mark.parametrize("days", [-1, 61])
def test_a_promise_outside_the_horizon_is_refused(system: PortalSystem, alpha: str, days: int) -> None:
    when = TODAY + dt.timedelta(days=days)

    answer = system.call("POST", "/portal/invoices/A-2/promises", {"date": when.isoformat()}, token=alpha)

    assert answer.status == 422


def test_a_paid_invoice_cannot_be_disputed_or_promised(system: PortalSystem, alpha: str) -> None:
    dispute = system.call("POST", "/portal/invoices/A-3/disputes", {"reason": "other"}, token=alpha)
    promise = system.call("POST", "/portal/invoices/A-3/promises", {"date": TODAY.isoformat()}, token=alpha)

    assert (dispute.status, promise.status) == (409, 409)


def test_paying_is_checked_then_answered_not_implemented_until_stripe(system: PortalSystem, alpha: str) -> None:
    ok = system.call("POST", "/portal/payments", {"invoice_ids": ["A-2"]}, token=alpha)
    paid = system.call("POST", "/portal/payments", {"invoice_ids": ["A-3"]}, token=alpha)
    theirs = system.call("POST", "/portal/payments", {"invoice_ids": ["B-1"]}, token=alpha)
    twice = system.call("POST", "/portal/payments", {"invoice_ids": ["A-2", "A-2"]}, token=alpha)
    none = system.call("POST", "/portal/payments", {"invoice_ids": []}, token=alpha)

    assert ok.status == 501 and ok.json()["error"]["code"] == "not_implemented"
    assert (paid.status, theirs.status, twice.status, none.status) == (409, 404, 422, 422)


def test_updating_master_data_restarts_validation_and_keeps_the_tin_secret(system: PortalSystem) -> None:
    token = system.session("BETA")

    answer = system.call(
        "PUT", "/portal/me", {"tin_type": "ein", "tin": "98-7654321", "phone": "+1 (312) 555-0199"}, token=token
    )

    assert answer.status == 200
    profile = answer.json()
    assert profile["tin"] == "•••••4321"
    assert profile["phone"] == "+13125550199"
    assert profile["onboarding_status"] == "submitted"
    assert "987654321" not in answer.body.decode()
    record = CustomerRecord.get("BETA", consistent_read=True)
    assert record.tin_last4 == "4321" and b"987654321" not in bytes(record.tin_ciphertext or b"")


def test_an_invalid_tin_or_address_is_a_422_and_nothing_changes(system: PortalSystem) -> None:
    token = system.session("BETA")
    # The onboarding workflow may still be writing BETA's status: what must not change is its master data and
    # its revision (no validation started).
    record = CustomerRecord.get("BETA", consistent_read=True)
    before = (record.tin_last4, record.ap_email, record.onboarding_revision)

    answer = system.call(
        "PUT",
        "/portal/me",
        {"tin_type": "ein", "tin": "00-0000000", "ap_email": "noreply@beta.example.com"},
        token=token,
    )

    assert answer.status == 422
    messages = " ".join(d["message"] for d in answer.json()["error"]["details"])
    assert "tin" in messages and "ap_email" in messages
    assert "00-0000000" not in answer.body.decode()
    record = CustomerRecord.get("BETA", consistent_read=True)
    assert (record.tin_last4, record.ap_email, record.onboarding_revision) == before


def test_a_body_over_the_limit_is_a_413(system: PortalSystem, alpha: str) -> None:
    answer = system.call("POST", "/portal/invoices/A-2/notes", raw=b'{"text": "' + b"x" * 300_000 + b'"}', token=alpha)

    assert answer.status == 413


def test_the_openapi_document_lists_every_portal_route_with_its_security(system: PortalSystem) -> None:
    document = system.call("GET", "/openapi.json").json()

    paths = document["paths"]
    for path in ("/portal/me", "/portal/invoices", "/portal/invoices/{invoice_id}", "/portal/statement.pdf"):
        assert path in paths
    assert paths["/portal/me"]["get"]["security"] == [{"session": []}]
    assert "session" in document["components"]["securitySchemes"]
    assert "security" not in paths["/portal/session"]["post"]


def test_staff_routes_refuse_callers_that_are_not_on_this_machine() -> None:
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from arcollect.local.gateway import LocalGateway

    calls: list[dict[str, Any]] = []
    gateway = LocalGateway(
        region="us-east-1",
        account_id="123456789012",
        api_handler=lambda event, context: calls.append(event) or {"statusCode": 200, "body": "{}"},
        authorizer_handler=lambda event, context: {},
    )
    remote = Request(EnvironBuilder(path="/staff/customers", environ_base={"REMOTE_ADDR": "192.0.2.7"}).get_environ())
    local = Request(EnvironBuilder(path="/staff/customers", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ())

    assert gateway._invoke_api(remote).status_code == 403
    assert gateway._invoke_api(local).status_code == 200
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("origin", "email_state", "eligible"),
    [
        ("erp", "unverified", True),
        ("erp", "verified", True),
        ("invited", "verified", True),
        ("invited", "unverified", False),
        ("erp", "pending", False),
        ("erp", "bounced", False),
    ],
)
def test_only_an_address_the_seller_gave_or_the_customer_confirmed_may_receive_links(
    system: PortalSystem, origin: str, email_state: str, eligible: bool
) -> None:
    from shared.data.tables import ContactMap
    from shared.portal.access import customer_for_address

    customer = CustomerRecord.get("ALPHA", consistent_read=True)
    before = (customer.origin, [c.email_state for c in customer.contacts])
    customer.origin = origin
    customer.contacts = [
        ContactMap(contact_id=c.contact_id, role=c.role, email=c.email, phone=c.phone, email_state=email_state)
        for c in customer.contacts
    ]
    customer.save()
    try:
        found = customer_for_address("ap@alpha.example.com")
        assert (found is not None and found.customer_id == "ALPHA") is eligible
    finally:
        customer.origin = before[0]
        for contact, state in zip(customer.contacts, before[1], strict=True):
            contact.email_state = state
        customer.save()


def test_an_invoice_id_with_url_characters_is_reached_percent_encoded(system: PortalSystem) -> None:
    from urllib.parse import quote

    from shared.clock import clock_for
    from shared.ledger.importer import build_importer
    from shared.settings import runtime_settings

    importer = build_importer(runtime_settings(), clock_for(TODAY))
    importer.import_file(
        "customers", b"customer_id,legal_name,country,ap_email\nGAMMA,Gamma Co,US,ap@gamma.example.com\n", source="c"
    )
    report = importer.import_file(
        "invoices",
        b"invoice_id,customer_id,number,issue_date,due_date,currency,amount,balance\n"
        b"INV/2026 7?x=1,GAMMA,7,2026-01-05,2026-02-04,USD,10.00,10.00\n",
        source="i",
    )
    assert report.rejected == 0, report.problems
    token = system.session("GAMMA")
    path = f"/portal/invoices/{quote('INV/2026 7?x=1', safe='')}"

    detail = system.call("GET", path, token=token)
    note = system.call("POST", f"{path}/notes", {"text": "ok"}, token=token)
    pdf = system.call("GET", f"{path}/pdf", token=token)

    assert detail.status == 200 and detail.json()["invoice_id"] == "INV/2026 7?x=1"
    assert note.status == 201 and note.json()["invoice_ids"] == ["INV/2026 7?x=1"]
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")


@pytest.mark.parametrize("route", ["/portal/invoices/{}", "/portal/invoices/{}/pdf", "/portal/payments/{}"])
def test_an_id_longer_than_any_key_is_not_found_not_a_failure(
    system: PortalSystem, alpha: str, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pynamodb.exceptions import GetError

    from shared.data.tables import PaymentAttemptRecord

    # DynamoDB refuses a hash key over 2048 bytes (ValidationException); moto does not, so it is made to here.
    for model in (InvoiceRecord, PaymentAttemptRecord):
        original = model.get

        def strict_get(key: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if len(key.encode()) > 2048:
                raise GetError("ValidationException: Hash primary key values must be under 2048 bytes")
            return _original(key, *args, **kwargs)

        monkeypatch.setattr(model, "get", strict_get)

    answer = system.call("GET", route.format("x" * 3000), token=alpha)

    assert answer.status == 404


def test_a_note_with_terminal_control_characters_is_refused_but_line_breaks_are_kept(
    system: PortalSystem, alpha: str
) -> None:
    refused = system.call("POST", "/portal/invoices/A-2/notes", {"text": "paid \x1b[31mred\x1b[0m"}, token=alpha)
    kept = system.call("POST", "/portal/invoices/A-2/notes", {"text": "line one\nline two\tend"}, token=alpha)

    assert refused.status == 422
    assert refused.json()["error"]["details"][0]["field"] == "text"
    assert kept.status == 201 and kept.json()["text"] == "line one\nline two\tend"
