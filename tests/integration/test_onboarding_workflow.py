"""The onboarding workflow end to end under `arcollect local`: the real statemachines/onboarding.asl.json executed by
moto, the real onboarding_step handler, SES mail read back from the emulator's outbox, the verification link
opened over HTTP. The click wait is two seconds here (three days in AWS), so the reminder and the timeout are
real too."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from arcollect.local.outbox import read_outbox
from shared.data.tables import ActivityRecord, CustomerRecord, SuppressionRecord, TaskRecord
from shared.onboarding import workflow
from tests.integration.portal_system import PortalSystem, _import, start_portal_system

CLICK_WAIT_S = 2
CUSTOMERS = """customer_id,legal_name,country,ap_email,phone,timezone,currency,terms_days,tin_type,tin
HAPPY,Happy Hardware Inc,US,ap@example.com,+12125550101,America/New_York,USD,30,ein,04-2103594
QUIET,Quiet Lumber Inc,US,billing@example.com,+12125550102,America/New_York,USD,30,ein,27-1234567
LATE,Late Tools Inc,US,invoices@example.com,+12125550103,America/New_York,USD,30,ein,36-4567890
SOLE,Sole Traders Corp,US,ap@example.org,+12125550104,America/New_York,USD,30,ssn,123-45-6780
MOVER,Mover Freight Inc,US,ap@example.net,+12125550105,America/New_York,USD,30,ein,45-2345678
SLOW,Slow Networks Inc,US,ap@dns-timeout.example,+12125550106,America/New_York,USD,30,ein,46-3456789
BOUNCY,Bouncy Castles Inc,US,bounce@simulator.amazonses.com,+12125550107,America/New_York,USD,30,ein,47-4567890
REMIND,Remind Me Inc,US,payables@example.org,+12125550111,America/New_York,USD,30,ein,62-3456789
EARLY,Early Birds Inc,US,ar@example.org,+12125550109,America/New_York,USD,30,ein,48-5678901
UNICODE,Uni Code Inc,US,ñoño@example.com,+12125550110,America/New_York,USD,30,ein,61-2345678
LEAKY,Lee Kyle,US,payables@example.com,+12125550108,America/New_York,USD,30,ssn,536-22-1234
"""
# Every TIN above, compact: none may ever be written anywhere but in its encrypted field.
TINS = [
    "485678901",
    "042103594",
    "271234567",
    "364567890",
    "123456780",
    "452345678",
    "463456789",
    "474567890",
    "536221234",
]


@pytest.fixture(scope="module")
def system(tmp_path_factory: Any) -> Iterator[PortalSystem]:
    before = os.environ.get("ARCOLLECT_ONBOARDING_CLICK_WAIT_S")
    os.environ["ARCOLLECT_ONBOARDING_CLICK_WAIT_S"] = str(CLICK_WAIT_S)
    started, finish = start_portal_system(tmp_path_factory.mktemp("onboarding"))
    try:
        _import("customers", CUSTOMERS)
        yield started
    finally:
        finish()
        if before is None:
            os.environ.pop("ARCOLLECT_ONBOARDING_CLICK_WAIT_S", None)
        else:
            os.environ["ARCOLLECT_ONBOARDING_CLICK_WAIT_S"] = before


def wait_for(what: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("waited in vain")
        time.sleep(0.2)


def customer(customer_id: str) -> CustomerRecord:
    return CustomerRecord.get(customer_id, consistent_read=True)


def status_becomes(customer_id: str, *statuses: str, timeout: float = 30.0) -> CustomerRecord:
    return wait_for(lambda: (c := customer(customer_id)).onboarding_status in statuses and c, timeout)


def verification_links(address: str) -> list[str]:
    found = []
    for message in read_outbox("us-east-1", to=address):
        found += [link for link in message.links if "/onboarding/verify?" in link]
        found += re.findall(r"https?://\S+/onboarding/verify\?token=[\w-]+", message.body_text)
    return list(dict.fromkeys(found))


def submit(system: PortalSystem, customer_id: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    token = system.session(customer_id)
    body = changes or {"legal_name": customer(customer_id).legal_name}
    answer = system.call("PUT", "/portal/me", body, token=token)
    assert answer.status == 200, answer.body
    return dict(answer.json())


def open_link(system: PortalSystem, link: str) -> tuple[int, str]:
    parsed = urllib.parse.urlsplit(link)
    answer = system.call("GET", f"{parsed.path}?{parsed.query}")
    return answer.status, answer.body.decode()


def history(customer_id: str) -> list[str]:
    return [a.summary for a in ActivityRecord.query(customer_id) if a.kind == "onboarding"]


def open_tasks(customer_id: str) -> list[TaskRecord]:
    return [t for t in TaskRecord.scan(TaskRecord.customer_id == customer_id) if t.kind == "onboarding"]


def test_a_submission_is_validated_verified_by_the_click_and_activates_the_customer(system: PortalSystem) -> None:
    profile = submit(system, "HAPPY")
    assert profile["onboarding_status"] == "submitted"

    status_becomes("HAPPY", "awaiting_email_verification")
    link = wait_for(lambda: verification_links("ap@example.com"))[0]
    status, page = open_link(system, link)

    assert status == 200 and "Address confirmed" in page
    active = status_becomes("HAPPY", "active")
    assert active.onboarding_reasons == []
    assert active.tin_check in ("format_valid", "externally_matched")
    assert next(c for c in active.contacts if c.contact_id == "ap").email_state == "verified"
    assert any("active" in line for line in history("HAPPY"))
    # The link is good once: opened again, it says so and changes nothing.
    again, page = open_link(system, link)
    assert again == 200 and "already" in page.lower()


def test_an_unopened_verification_gets_one_reminder_then_needs_attention_with_a_task(system: PortalSystem) -> None:
    submit(system, "QUIET")

    stuck = status_becomes("QUIET", "needs_attention", timeout=60)

    assert stuck.onboarding_reasons == [workflow.UNCONFIRMED]
    assert len(verification_links("billing@example.com")) == 2  # the first email and one reminder, no more
    assert len(open_tasks("QUIET")) == 1


def test_the_first_link_opened_after_the_reminder_went_out_releases_the_wait_for_the_reminder(
    system: PortalSystem,
) -> None:
    from shared.onboarding.service import onboarding_services

    class Waiting(RecordingExecutions):
        """Step Functions as it stands after the reminder: only the reminder's task token still waits."""

        def __init__(self) -> None:
            super().__init__()
            self.answered: list[str] = []

        def succeed(self, task_token: str, output: dict[str, Any]) -> bool:
            self.answered.append(task_token)
            return task_token == "reminder-token"

    mailer, executions, now = LinkMailer(), Waiting(), dt.datetime.now(dt.UTC)
    revision = workflow.start_validation("REMIND", now, executions, 2).revision
    assert workflow.validate("REMIND", revision, now, onboarding_services().checks, 2).outcome == "verify_email"
    workflow.send_verification("REMIND", revision, "first-token", False, now, mailer, "https://portal.example")
    workflow.send_verification("REMIND", revision, "reminder-token", True, now, mailer, "https://portal.example")

    first_link = mailer.links[0]
    click = workflow.confirm_email(first_link.split("token=")[1], now, executions, 2)

    assert click.outcome == "confirmed"
    assert executions.answered == ["first-token", "reminder-token"]  # its own wait is over: the current one goes on
    assert next(c for c in customer("REMIND").contacts if c.contact_id == "ap").email_state == "verified"


def test_a_click_after_the_wait_ended_validates_again_and_activates(system: PortalSystem) -> None:
    submit(system, "LATE")
    status_becomes("LATE", "needs_attention", timeout=60)
    link = verification_links("invoices@example.com")[0]

    status, _ = open_link(system, link)

    assert status == 200
    assert status_becomes("LATE", "active", timeout=60).onboarding_reasons == []
    # The AR team's task for the unopened link is done once the customer is active.
    assert [(t.status, t.outcome) for t in open_tasks("LATE")] == [("done", "activated")]


def test_an_ssn_for_a_corporation_needs_attention_with_the_reason_and_a_task_and_no_email(
    system: PortalSystem,
) -> None:
    submit(system, "SOLE")

    stuck = status_becomes("SOLE", "needs_attention")

    assert any(r.startswith("tin:") for r in stuck.onboarding_reasons)
    assert all("123456780" not in r and "123-45-6780" not in r for r in stuck.onboarding_reasons)
    assert verification_links("ap@example.org") == []
    assert len(open_tasks("SOLE")) == 1
    # The portal shows the reasons to the customer.
    me = system.call("GET", "/portal/me", token=system.session("SOLE")).json()
    assert me["onboarding_status"] == "needs_attention" and me["onboarding_reasons"] == stuck.onboarding_reasons


def test_an_address_ses_cannot_deliver_to_needs_attention_before_any_email_is_tried(system: PortalSystem) -> None:
    submit(system, "UNICODE")

    stuck = status_becomes("UNICODE", "needs_attention")

    assert stuck.onboarding_reasons == [workflow.NON_ASCII_MAILBOX]
    assert verification_links("ñoño@example.com") == []


def test_a_change_while_waiting_for_the_click_supersedes_the_first_execution(system: PortalSystem) -> None:
    submit(system, "MOVER")
    status_becomes("MOVER", "awaiting_email_verification")
    old_link = wait_for(lambda: verification_links("ap@example.net"))[0]

    submit(system, "MOVER", {"ap_email": "accountspayable@example.net"})
    new_link = wait_for(lambda: verification_links("accountspayable@example.net"))[0]
    old_status, _ = open_link(system, old_link)

    assert old_status == 409  # the address was replaced: the old click counts for nothing
    assert customer("MOVER").onboarding_status == "awaiting_email_verification"
    status, _ = open_link(system, new_link)
    assert status == 200
    active = status_becomes("MOVER", "active")
    assert active.onboarding_revision == 2


def test_a_link_of_an_earlier_revision_for_the_same_address_still_activates_the_customer(
    system: PortalSystem,
) -> None:
    submit(system, "EARLY")
    first = wait_for(lambda: verification_links("ar@example.org"))[0]
    submit(system, "EARLY", {"phone": "+1 212 555 0119"})  # a new revision, the same AP address
    wait_for(lambda: len(verification_links("ar@example.org")) >= 2)

    status, _ = open_link(system, first)

    assert status == 200
    active = status_becomes("EARLY", "active", timeout=60)
    assert active.onboarding_revision == 2
    assert len(verification_links("ar@example.org")) == 2  # no reminder to an address already confirmed


def test_a_dns_timeout_leaves_the_customer_pending_with_a_retry_due_never_failed(system: PortalSystem) -> None:
    submit(system, "SLOW")

    wait_for(lambda: any("could not reach DNS" in line for line in history("SLOW")), timeout=60)
    pending = customer("SLOW")

    assert pending.onboarding_status == "submitted" and pending.onboarding_due_action == "revalidate"
    assert pending.onboarding_due_at and pending.onboarding_due_at > pending.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert pending.onboarding_reasons == []
    assert open_tasks("SLOW") == []


def test_a_bounce_suppresses_the_address_and_reopens_onboarding(system: PortalSystem) -> None:
    submit(system, "BOUNCY")

    # The stub DNS does not know the simulator's domain; the verification email bounces in the simulator.
    bounced = wait_for(
        lambda: (
            (c := customer("BOUNCY")).onboarding_status == "needs_attention"
            and any("bounced" in r for r in c.onboarding_reasons)
            and c
        ),
        timeout=60,
    )

    assert next(c for c in bounced.contacts if c.contact_id == "ap").email_state == "bounced"
    assert SuppressionRecord.get("bounce@simulator.amazonses.com").reason == "bounce"
    # Submitted again with the same address, the suppression list refuses it.
    submit(system, "BOUNCY")
    again = wait_for(
        lambda: (
            (c := customer("BOUNCY")).onboarding_status == "needs_attention"
            and c.onboarding_revision == bounced.onboarding_revision + 1
            and c
        ),
        timeout=60,
    )
    assert any(r.startswith("ap_email:") and "bounced" in r.lower() for r in again.onboarding_reasons)


def test_a_link_that_is_unknown_or_garbled_is_a_plain_page_never_an_error_or_an_echo(system: PortalSystem) -> None:
    for token in ["", "nope", "<script>alert(1)</script>", "x" * 600]:
        answer = system.call("GET", "/onboarding/verify?" + urllib.parse.urlencode({"token": token}))
        body = answer.body.decode()
        assert answer.status in (404, 422), (token, answer.status)
        assert "<script>" not in body


# --- invitations ---------------------------------------------------------------------------------------------


INVITEES = """customer_id,legal_name,country,ap_email,timezone,currency,terms_days
INVITE-1,Invited Goods Inc,US,ap@example.com,America/New_York,USD,30
INVITE-2,Swept Supplies Inc,US,billing@example.org,America/New_York,USD,30
"""


@pytest.fixture(scope="module")
def invitees(system: PortalSystem) -> list[str]:
    _import("customers", INVITEES)
    return ["INVITE-1", "INVITE-2"]


def cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from arcollect.cli.app import app

    return CliRunner().invoke(app, list(args))


def test_staff_invite_a_customer_and_the_link_in_the_email_opens_the_portal(
    system: PortalSystem, invitees: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(system.directory)

    done = cli("onboarding", "invite", "INVITE-1", "--json")

    assert done.exit_code == 0, done.output
    answer = json.loads(done.output)
    assert answer["address"] == "a•••@example.com" and answer["next_reminder_at"]
    invitation = [
        m
        for m in read_outbox("us-east-1", to="ap@example.com")
        if "Complete your customer details" in (m.subject or "")
    ]
    assert len(invitation) == 1
    link = next(link for link in invitation[0].links if "link=" in link or "#" in link)
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).fragment or urllib.parse.urlsplit(link).query)
    link_token = (token.get("link") or token.get("token") or [""])[0]
    assert system.call("POST", "/portal/session", {"link_token": link_token}).status == 200
    assert customer("INVITE-1").invitations_sent == 1


def test_inviting_an_unknown_or_active_customer_says_why_and_sends_nothing(
    system: PortalSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(system.directory)
    before = len(read_outbox("us-east-1"))

    unknown = cli("onboarding", "invite", "NOBODY")
    status_becomes("HAPPY", "active", timeout=60)
    active = cli("onboarding", "invite", "HAPPY")

    assert unknown.exit_code == 1 and "NOBODY" in unknown.output and "not known" in unknown.output
    assert active.exit_code == 1 and "already active" in active.output
    assert len(read_outbox("us-east-1")) == before


class RecordingExecutions:
    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, name: str, payload: dict[str, Any]) -> str:
        self.started.append(name)
        return f"arn:aws:states:us-east-1:123456789012:execution:test:{name}"

    def stop(self, execution_arn: str) -> None:
        pass

    def succeed(self, task_token: str, output: dict[str, Any]) -> bool:
        return False


class LinkMailer:
    def __init__(self) -> None:
        self.links: list[str] = []

    def send_verification(self, customer: CustomerRecord, address: str, url: str, reminder: bool, now: Any) -> None:
        self.links.append(url)


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bool]] = []

    def send_invitation(self, customer: CustomerRecord, address: str, url: str, reminder: bool, now: Any) -> None:
        self.sent.append((customer.customer_id, address, reminder))

    def send_verification(self, *args: Any) -> None:
        raise AssertionError("the sweep sends no verification email")


def test_an_imported_customer_is_invited_a_day_later_then_reminded_weekly_three_times_then_left_alone(
    system: PortalSystem, invitees: list[str]
) -> None:
    imported = customer("INVITE-2")
    assert imported.onboarding_due_action == "invite"
    start = imported.created_at
    mailer, executions = RecordingMailer(), RecordingExecutions()

    def sweep_at(offset: dt.timedelta) -> list[str]:
        report = workflow.sweep(start + offset, mailer, lambda c: "https://portal.example/#link=x", executions, 2)
        assert report.failures == []
        return [i.outcome for i in report.items if i.customer_id == "INVITE-2"]

    assert sweep_at(dt.timedelta(hours=23)) == []  # not yet: a day to correct a bad import
    assert sweep_at(dt.timedelta(days=1, minutes=1)) == ["sent"]
    assert sweep_at(dt.timedelta(days=1, minutes=2)) == []  # the next one is a week away
    for week in (1, 2, 3):
        assert sweep_at(dt.timedelta(days=1 + 7 * week, minutes=1)) == ["sent"]
    assert sweep_at(dt.timedelta(days=1 + 7 * 4, minutes=1)) == []

    assert [(address, reminder) for _, address, reminder in mailer.sent if _ == "INVITE-2"] == [
        ("billing@example.org", False),
        ("billing@example.org", True),
        ("billing@example.org", True),
        ("billing@example.org", True),
    ]
    assert customer("INVITE-2").onboarding_due_action is None


def test_customers_show_prints_the_onboarding_state_reasons_and_history(
    system: PortalSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(system.directory)
    status_becomes("SOLE", "needs_attention")

    shown = cli("customers", "show", "SOLE", "--json")

    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.output)
    assert detail["onboarding_status"] == "needs_attention"
    assert detail["onboarding_reasons"] and all(r.startswith("tin:") for r in detail["onboarding_reasons"])
    assert any("needs attention" in event["summary"] for event in detail["onboarding_history"])
    assert "123456780" not in shown.output


def test_no_tin_reaches_a_log_line_an_execution_event_an_activity_a_task_an_email_or_a_report(
    system: PortalSystem, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    submit(system, "LEAKY", {"tin_type": "ssn", "tin": "536-22-1234", "legal_name": "Lee Kyle"})
    link = wait_for(lambda: verification_links("payables@example.com"))[0]
    open_link(system, link)
    status_becomes("LEAKY", "active")
    monkeypatch.chdir(system.directory)
    report = cli("customers", "show", "LEAKY", "--json").output + cli("customers", "show", "SOLE").output

    sfn = boto3.client("stepfunctions", endpoint_url=system.state.endpoint_url, region_name="us-east-1")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("-onboarding"))
    written = [report, capfd.readouterr().out, capfd.readouterr().err]
    for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
        written.append(str(sfn.get_execution_history(executionArn=execution["executionArn"])["events"]))
    for customer_id in ("HAPPY", "SOLE", "LEAKY", "MOVER", "BOUNCY"):
        written += [str(a.attribute_values) for a in ActivityRecord.query(customer_id)]
        written += [str(t.attribute_values) for t in open_tasks(customer_id)]
    written += [m.body_text + str(m.subject) for m in read_outbox("us-east-1")]
    # Digits as they stand, with the separators a TIN is written with taken out ("536-22-1234", "04 2103594").
    everything = re.sub(r"(?<=\d)[-\u2010\u2013\u2014 ](?=\d)", "", "\n".join(written))

    assert len(written) > 20  # histories, activities and mail were all read
    assert [tin for tin in TINS if tin in everything] == []


# --- the validate step with other registries -----------------------------------------------------------------


REGISTRY_CUSTOMERS = """customer_id,legal_name,country,ap_email,timezone,currency,terms_days,tin_type,tin
VAT-OK,Vat Handel GmbH,DE,buchhaltung@example.com,Europe/Berlin,EUR,30,eu_vat,DE136695976
VAT-DOWN,Vat Down GmbH,DE,buchhaltung@example.org,Europe/Berlin,EUR,30,eu_vat,DE129273398
"""


def checks_with(registry: Any) -> workflow.Checks:
    from shared.onboarding.service import onboarding_services

    services = onboarding_services()
    return workflow.Checks(
        tin=services.checks.tin,
        registry=registry.check,
        email=services.checks.email,
        phone=services.checks.phone,
        decrypt=services.checks.decrypt,
    )


@pytest.fixture(scope="module")
def vat_customers(system: PortalSystem) -> None:
    _import("customers", REGISTRY_CUSTOMERS)


def test_an_ap_email_changed_while_it_was_checked_supersedes_the_check_and_is_validated_on_its_own(
    system: PortalSystem, vat_customers: None
) -> None:
    from shared.onboarding.tin_external import StubRegistry

    checks = checks_with(StubRegistry())
    real_email = checks.email

    def email_while_an_import_changes_it(address: str) -> Any:
        record = customer("VAT-DOWN")
        record.contacts = [
            c if c.contact_id != "ap" else type(c)(contact_id="ap", role="ap", email="neu@example.org")
            for c in record.contacts
        ]
        record.ap_email = "neu@example.org"
        record.save()
        return real_email(address)

    checks.email = email_while_an_import_changes_it
    revision = int(customer("VAT-DOWN").onboarding_revision or 0)

    with pytest.raises(workflow.OnboardingSuperseded):
        workflow.validate("VAT-DOWN", revision, dt.datetime.now(dt.UTC), checks)

    after = customer("VAT-DOWN")
    assert next(c for c in after.contacts if c.contact_id == "ap").email == "neu@example.org"  # never reverted
    assert after.onboarding_due_action == "revalidate" and after.onboarding_status != "awaiting_email_verification"


def test_a_registry_that_confirms_the_number_marks_the_tin_externally_matched(
    system: PortalSystem, vat_customers: None
) -> None:
    from shared.onboarding.tin_external import StubRegistry

    revision = int(customer("VAT-OK").onboarding_revision or 0)
    outcome = workflow.validate("VAT-OK", revision, dt.datetime.now(dt.UTC), checks_with(StubRegistry()))

    assert outcome.outcome == "verify_email"
    assert customer("VAT-OK").tin_check == "externally_matched"


def test_a_registry_that_does_not_know_the_number_is_a_reason(system: PortalSystem, vat_customers: None) -> None:
    from shared.onboarding.tin_external import StubRegistry

    registry = StubRegistry(not_matched={"DE136695976"})
    revision = int(customer("VAT-OK").onboarding_revision or 0)
    outcome = workflow.validate("VAT-OK", revision, dt.datetime.now(dt.UTC), checks_with(registry))

    assert outcome.outcome == "needs_attention"
    assert customer("VAT-OK").onboarding_reasons == [workflow.NOT_IN_REGISTER]


def test_a_registry_outage_is_retry_later_and_leaves_the_customer_unjudged(
    system: PortalSystem, vat_customers: None
) -> None:
    from shared.onboarding.tin_external import StubRegistry

    before = customer("VAT-DOWN")
    with pytest.raises(workflow.OnboardingRetryLater):
        workflow.validate(
            "VAT-DOWN",
            int(before.onboarding_revision or 0),
            dt.datetime.now(dt.UTC),
            checks_with(StubRegistry(outage=True)),
        )

    after = customer("VAT-DOWN")
    assert after.onboarding_status != "needs_attention" and after.onboarding_reasons == before.onboarding_reasons
    assert open_tasks("VAT-DOWN") == []


def test_a_step_for_an_older_revision_changes_nothing(system: PortalSystem, vat_customers: None) -> None:
    from shared.onboarding.tin_external import StubRegistry

    before = customer("VAT-DOWN")
    stale = int(before.onboarding_revision or 0) - 1

    with pytest.raises(workflow.OnboardingSuperseded):
        workflow.validate("VAT-DOWN", stale, dt.datetime.now(dt.UTC), checks_with(StubRegistry()))
    with pytest.raises(workflow.OnboardingSuperseded):
        workflow.activate("VAT-DOWN", stale, dt.datetime.now(dt.UTC))

    assert customer("VAT-DOWN").version == before.version


def test_an_import_that_changes_the_ap_email_plans_a_validation_the_sweep_starts(
    system: PortalSystem, vat_customers: None
) -> None:
    assert customer("VAT-OK").onboarding_due_action != "invite"  # its validations ran (the tests above)
    _import("customers", REGISTRY_CUSTOMERS.replace("buchhaltung@example.com", "rechnungen@example.com"))
    changed = customer("VAT-OK")
    assert changed.onboarding_due_action == "revalidate"
    executions = RecordingExecutions()

    report = workflow.sweep(
        dt.datetime.now(dt.UTC) + dt.timedelta(days=400), RecordingMailer(), lambda c: "", executions, 2
    )

    assert [i.outcome for i in report.items if i.customer_id == "VAT-OK"] == ["started"]
    ours = [name for name in executions.started if name.startswith("VAT-OK-")]
    assert ours == [workflow.execution_name("VAT-OK", int(changed.onboarding_revision or 0) + 1)]
    # The sweep's start keeps a re-validation due within the hour: should the execution never run, it is retried.
    assert customer("VAT-OK").onboarding_due_action == "revalidate"


def test_an_import_change_never_replaces_a_first_invitation_still_to_go_out(system: PortalSystem) -> None:
    text = "customer_id,legal_name,ap_email\nFRESH,Fresh Goods Inc,ap@example.net\n"
    _import("customers", text)
    _import("customers", text.replace("ap@example.net", "billing@example.net"))

    assert customer("FRESH").onboarding_due_action == "invite"


def test_a_sweep_out_of_time_stops_and_leaves_the_rest_due_for_the_next_hour(system: PortalSystem) -> None:
    _import("customers", "customer_id,legal_name,ap_email\nLATECOMER,Latecomer Inc,ap@example.net\n")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    due_before = list(workflow.due_customers(later))
    mailer = RecordingMailer()

    report = workflow.sweep(later, mailer, lambda c: "", RecordingExecutions(), 2, keep_going=lambda: False)

    assert due_before  # there was work to do
    assert (report.items, report.unfinished, mailer.sent) == ([], True, [])
    assert list(workflow.due_customers(later)) == due_before


# --- the staff routes: the CLI's powers over HTTP ------------------------------------------------------------


def test_staff_check_a_tin_over_http_and_never_see_it_back(system: PortalSystem) -> None:
    answer = system.call(
        "POST", "/staff/checks/tin", {"tin_type": "ssn", "value": "536-22-1234", "legal_name": "Acme Inc"}
    )
    typo = system.call("POST", "/staff/checks/tin", {"tin_type": "vat", "value": "536-22-1234"})

    assert answer.status == 200
    assert answer.json()["valid"] is False and answer.json()["normalised_masked"].endswith("1234")
    assert "536221234" not in answer.body.decode() and "536-22-1234" not in answer.body.decode()
    assert typo.status == 422 and "536" not in typo.body.decode()


def test_staff_check_an_address_against_the_suppression_list(system: PortalSystem) -> None:
    SuppressionRecord("dropped@example.com", reason="bounce", suppressed_at=dt.datetime.now(dt.UTC)).save()

    dropped = system.call("POST", "/staff/checks/email", {"address": "Dropped@example.com"})
    fine = system.call("POST", "/staff/checks/email", {"address": "ap@example.com", "dns": False})

    assert dropped.status == 200 and dropped.json()["verdict"] == "invalid"
    assert any("suppression list" in r for r in dropped.json()["reasons"])
    assert fine.json()["verdict"] == "valid" and fine.json()["dns"] == "not_checked"


def test_staff_send_an_invitation_over_http(system: PortalSystem, invitees: list[str]) -> None:
    sent = system.call("POST", "/staff/customers/INVITE-2/onboarding/invitations")
    unknown = system.call("POST", "/staff/customers/NOBODY/onboarding/invitations")
    active = system.call("POST", "/staff/customers/HAPPY/onboarding/invitations")

    assert sent.status == 201 and sent.json()["address"] == "b•••@example.org"
    assert (unknown.status, active.status) == (404, 422)
    assert "already active" in active.json()["error"]["message"]


def test_staff_record_a_tin_checked_against_its_document(
    system: PortalSystem, invitees: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(system.directory)
    status_becomes("HAPPY", "active", timeout=60)

    done = cli("onboarding", "tin-document", "HAPPY", "--by", "Dana (AR)", "--json")
    no_tin = cli("onboarding", "tin-document", "INVITE-1", "--by", "Dana (AR)")

    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {"customer_id": "HAPPY", "tin_check": "document_verified"}
    assert customer("HAPPY").tin_check == "document_verified"
    assert any("checked against its document by Dana (AR)" in line for line in history("HAPPY"))
    assert no_tin.exit_code == 1 and "no TIN" in no_tin.output
