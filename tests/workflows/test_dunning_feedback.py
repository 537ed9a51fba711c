"""SES feedback through the local system as AWS wires it: a reminder to SES's simulator addresses bounces or is
reported as spam, the notification SES would publish reaches the feedback topic (the local mailbox simulator
publishes it, since moto's SES never does), and the feedback queue's function marks the address, re-opens
onboarding and falls back to the next channel (PRODUCT.md 1.3 rule 8) — once, however often it is delivered."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from arcollect.local.outbox import OutboxMessage
from tests.workflows.conftest import DunningSystem, apply_policy
from tests.workflows.ledgers import (
    TODAY,
    Customer,
    activities_of,
    customer,
    drain_now,
    due_on,
    fresh_system,
    import_ledger,
    outbox,
    pin_run_clock,
    policy_text,
    queued,
    sends_of,
    tasks_of,
    verify_link,
)

UTC = dt.UTC
BOUNCE = "bounce@simulator.amazonses.com"
BOUNCE_NO_PHONE = "bounce+nophone@simulator.amazonses.com"
COMPLAINT = "complaint@simulator.amazonses.com"
BOUNCER_PHONE = "+14155550199"
CUSTOMERS = (
    Customer("BOUNCER", ap_email=BOUNCE, phone=BOUNCER_PHONE),
    Customer("NOPHONE", ap_email=BOUNCE_NO_PHONE),
    Customer("COMPLAINER", ap_email=COMPLAINT, phone="+14155550198"),
)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.2)


def take_notifications(system: DunningSystem, expected: int) -> list[dict[str, Any]]:
    """The SES notifications waiting in the feedback queue (SNS envelopes opened), left there for the function."""
    sqs = system.emulator.client("sqs")
    url = system.resources.email_feedback.url
    wait_until(lambda: queued(system, "email_feedback") >= expected, f"{expected} notifications on the topic")
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    return [json.loads(json.loads(m["Body"])["Message"]) for m in received]


@dataclass
class State:
    tasks: list[tuple[str, str]]
    customers: dict[str, tuple[list[tuple[str | None, str]], str, list[str]]]
    activities: dict[str, int]


def state() -> State:
    def contacts(customer_id: str) -> tuple[list[tuple[str | None, str]], str, list[str]]:
        record = customer(customer_id)
        return (
            [(c.email, c.email_state) for c in record.contacts or []],
            record.onboarding_status,
            list(record.onboarding_reasons or []),
        )

    ids = [c.customer_id for c in CUSTOMERS]
    return State(
        tasks=sorted((t.customer_id, t.kind) for c in ids for t in tasks_of(c)),
        customers={c: contacts(c) for c in ids},
        activities={c: len(activities_of(c)) for c in ids},
    )


@dataclass
class Feedback:
    system: DunningSystem
    notifications: list[dict[str, Any]]
    outbox_after: list[OutboxMessage]
    after: State
    outbox_after_redelivery: list[OutboxMessage]
    after_redelivery: State

    def notification_to(self, address: str) -> dict[str, Any]:
        (found,) = [n for n in self.notifications if n["mail"]["destination"] == [address]]
        return found


@pytest.fixture(scope="class")
def feedback() -> Iterator[Feedback]:
    with fresh_system() as system:
        apply_policy(policy_text(), dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
        import_ledger(
            TODAY, CUSTOMERS, [due_on(f"{c.customer_id}-1", c.customer_id, dt.date(2026, 2, 27)) for c in CUSTOMERS]
        )
        pin_run_clock(dt.datetime(2026, 3, 2, 15, 30, tzinfo=UTC))
        system.run(TODAY)
        notifications = take_notifications(system, len(CUSTOMERS))
        drain_now(system, "email_feedback")
        outbox_after, after = outbox(system), state()

        sns = system.emulator.client("sns")
        for notification in notifications:  # SNS delivers at least once: the same notification again
            sns.publish(TopicArn=system.resources.feedback_topic_arn, Message=json.dumps(notification))
        wait_until(lambda: queued(system, "email_feedback") >= len(notifications), "the redelivery")
        drain_now(system, "email_feedback")
        yield Feedback(system, notifications, outbox_after, after, outbox(system), state())


class TestBouncesAndComplaints:
    def test_an_email_to_the_bounce_address_produces_the_ses_bounce_notification(self, feedback: Feedback) -> None:
        notification = feedback.notification_to(BOUNCE)
        assert notification["notificationType"] == "Bounce"
        assert notification["bounce"]["bounceType"] == "Permanent"
        assert [r["emailAddress"] for r in notification["bounce"]["bouncedRecipients"]] == [BOUNCE]
        headers = {h["name"]: h["value"] for h in notification["mail"]["headers"]}
        assert headers["X-Arcollect-Send-Key"] == "BOUNCER#email#2026-03-02"

    def test_an_email_to_the_complaint_address_produces_the_ses_complaint_notification(
        self, feedback: Feedback
    ) -> None:
        notification = feedback.notification_to(COMPLAINT)
        assert notification["notificationType"] == "Complaint"
        assert [r["emailAddress"] for r in notification["complaint"]["complainedRecipients"]] == [COMPLAINT]

    def test_a_bounce_marks_the_contact_bounced_and_re_opens_onboarding_with_a_reason(self, feedback: Feedback) -> None:
        contacts, status, reasons = feedback.after.customers["BOUNCER"]
        assert contacts == [(BOUNCE, "bounced")]
        assert status == "needs_attention"
        assert any("bounced" in reason for reason in reasons), reasons

    def test_a_bounce_falls_back_to_an_sms_the_same_day_for_a_customer_with_a_phone(self, feedback: Feedback) -> None:
        (sms,) = [m for m in feedback.outbox_after if m.channel == "sms"]
        assert (sms.to, sms.customer_id, sms.invoice_ids) == (BOUNCER_PHONE, "BOUNCER", ["BOUNCER-1"])
        (link,) = sms.links
        assert verify_link(feedback.system, link, dt.datetime(2026, 3, 2, 16, 0, tzinfo=UTC)).customer_id == "BOUNCER"
        fallback = [s for s in sends_of("BOUNCER") if s.channel == "sms"]
        assert [(s.local_date, s.status) for s in fallback] == [("2026-03-02", "sent")]

    def test_a_bounce_becomes_a_call_task_for_a_customer_without_a_phone(self, feedback: Feedback) -> None:
        assert [(t.kind, list(t.invoice_ids or [])) for t in tasks_of("NOPHONE")] == [("call", ["NOPHONE-1"])]
        assert [m for m in feedback.outbox_after if m.channel == "sms" and m.customer_id == "NOPHONE"] == []
        contacts, status, _ = feedback.after.customers["NOPHONE"]
        assert (contacts, status) == ([(BOUNCE_NO_PHONE, "bounced")], "needs_attention")

    def test_a_complaint_marks_the_address_and_sends_no_fallback(self, feedback: Feedback) -> None:
        contacts, status, reasons = feedback.after.customers["COMPLAINER"]
        assert contacts == [(COMPLAINT, "complained")]
        assert status == "needs_attention" and reasons
        assert [m.channel for m in feedback.outbox_after if m.customer_id == "COMPLAINER"] == ["email"]
        assert (tasks_of("COMPLAINER"), [s.channel for s in sends_of("COMPLAINER")]) == ([], ["email"])

    def test_a_second_delivery_of_the_same_notification_sends_nothing_more(self, feedback: Feedback) -> None:
        assert [m.message_id for m in feedback.outbox_after_redelivery] == [m.message_id for m in feedback.outbox_after]
        assert feedback.after_redelivery.tasks == feedback.after.tasks

    def test_a_second_delivery_of_the_same_notification_changes_no_customer(self, feedback: Feedback) -> None:
        assert feedback.after_redelivery.customers == feedback.after.customers

    def test_a_second_delivery_of_the_same_notification_adds_nothing_to_the_timeline(self, feedback: Feedback) -> None:
        assert feedback.after_redelivery.activities == feedback.after.activities
