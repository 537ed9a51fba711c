"""The dunning run through the real state machine (statemachines/dunning.asl.json under moto, every Lambda task
the real handler): what a run sends, to whom, when, with what attached, and what it leaves alone — PRODUCT.md
1.3's rules as a customer or a collector would see them, in the outbox and on the worklist.

Each class is one scenario on a system of its own: the fixture imports a tiny ledger and runs the days the
scenario needs (a run takes seconds), and the tests read what those runs did."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from arcollect.cli.dunning_cmd import open_tasks
from arcollect.local.outbox import OutboxMessage
from shared.data.tables import DunningRunRecord, InvoiceRecord
from shared.dunning.model import SendWindow
from shared.dunning.policy import parse_policy_file
from shared.dunning.window import is_open, local_date
from tests.workflows.conftest import DunningSystem, apply_policy
from tests.workflows.ledgers import (
    TODAY,
    Customer,
    Payment,
    attachments,
    customer,
    due_on,
    fresh_system,
    import_ledger,
    invoice,
    new_messages,
    outbox,
    pin_run_clock,
    policy_text,
    raw_emails,
    sends_of,
    tasks_of,
    verify_link,
)

UTC = dt.UTC
POLICY_APPLIED = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STANDARD = parse_policy_file(policy_text()).policies["standard"]
GENTLE = parse_policy_file(policy_text()).policies["gentle"]


def messages_to(system: DunningSystem, customer_id: str) -> list[OutboxMessage]:
    return to(outbox(system), customer_id)


def to(messages: list[OutboxMessage], customer_id: str) -> list[OutboxMessage]:
    return [m for m in messages if m.customer_id == customer_id]


def sent_at(message: OutboxMessage) -> dt.datetime:
    assert message.sent_at is not None
    return dt.datetime.fromisoformat(message.sent_at.replace("Z", "+00:00"))


def in_window(window: SendWindow, moment: dt.datetime, timezone: str, day: dt.date) -> bool:
    return local_date(moment, timezone) == day and is_open(window, moment, timezone, None)


def sections(body: str) -> dict[str, str]:
    """The text body's per-currency sections: currency → the section's text."""
    parts = body.split("Invoices in ")[1:]
    return {part[:3]: part.split("\n\n", 1)[0] for part in parts}


# --- one Monday run over a small ledger ---------------------------------------------------------------------

MONDAY_RUN_AT = dt.datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 10:30 in New York, 16:30 in Berlin, 07:30 in LA
CALLS_FIRST = """\
  - name: calls_first
    min_touches: 1
    steps:
      - {id: call_first,  anchor: due_date, offset_days: 0,  channel: call}
      - {id: email_later, anchor: due_date, offset_days: 20, channel: email, template: past_due}
"""
MONDAY_CUSTOMERS = (
    Customer("ACME", phone="+14155550101"),
    Customer("BERLIN", timezone="Europe/Berlin", country="DE"),
    Customer("PACIFIC", timezone="America/Los_Angeles"),
    Customer("YOUNG"),
    Customer("HOLDS"),
    Customer("QUIET"),
    Customer("BROKEN"),
    Customer("MULTI"),
    Customer("CALLER"),
)
MONDAY_INVOICES = (
    due_on("A1", "ACME", dt.date(2026, 2, 20)),
    due_on("A2", "ACME", dt.date(2026, 2, 27)),
    due_on("B1", "BERLIN", dt.date(2026, 2, 27)),
    due_on("P1", "PACIFIC", dt.date(2026, 2, 27)),
    due_on("Y1", "YOUNG", dt.date(2026, 3, 6), terms_days=14),  # issued 20 February: 10 days old
    due_on("H0", "HOLDS", dt.date(2026, 2, 27)),
    due_on("H1", "HOLDS", dt.date(2026, 2, 27)),
    due_on("H2", "HOLDS", dt.date(2026, 2, 27)),
    due_on("H3", "HOLDS", dt.date(2026, 2, 27)),
    due_on("H4", "HOLDS", dt.date(2026, 2, 27)),
    due_on("Q1", "QUIET", dt.date(2026, 2, 27)),
    due_on("K1", "BROKEN", dt.date(2026, 2, 20)),
    due_on("M1", "MULTI", dt.date(2026, 2, 27)),
    due_on("M2", "MULTI", dt.date(2026, 2, 27), currency="EUR"),
    due_on("C1", "CALLER", dt.date(2026, 2, 27)),
)


@dataclass
class MondayRun:
    system: DunningSystem
    result: dict[str, Any]


def hold(invoice_id: str, **fields: str) -> None:
    record = invoice(invoice_id)
    record.update(actions=[getattr(InvoiceRecord, name).set(value) for name, value in fields.items()])


@pytest.fixture(scope="class")
def monday() -> Iterator[MondayRun]:
    with fresh_system() as system:
        apply_policy(
            policy_text(CALLS_FIRST, "overrides:\n  invoices:\n    C1: {policy: calls_first}\n"), POLICY_APPLIED
        )
        import_ledger(
            TODAY,
            MONDAY_CUSTOMERS,
            MONDAY_INVOICES,
            [Payment("PAY-H1", "HOLDS", "H1", dt.date(2026, 3, 1))],
        )
        # Rule 5's holds, set on the stored records as the portal and the collectors set them.
        hold("H2", dispute_id="DSP-1")
        hold("H3", promise_date="2026-03-01")  # kept until 4 March (3 days' grace)
        hold("H4", hold_until="2026-03-10")
        hold("K1", promise_date="2026-02-20")  # broken since 24 February
        quiet = customer("QUIET")
        quiet.do_not_contact = True
        quiet.save()
        pin_run_clock(MONDAY_RUN_AT)
        yield MondayRun(system, system.run(TODAY))


class TestAMondayRun:
    def test_each_customer_gets_one_email_listing_every_due_invoice(self, monday: MondayRun) -> None:
        acme = messages_to(monday.system, "ACME")
        assert [(m.channel, m.to, sorted(m.invoice_ids or [])) for m in acme] == [
            ("email", "acme@example.com", ["A1", "A2"])
        ]
        assert "N-A1" in acme[0].body_text and "N-A2" in acme[0].body_text
        assert [len(messages_to(monday.system, c)) for c in ("BERLIN", "PACIFIC", "HOLDS", "MULTI")] == [1, 1, 1, 1]

    def test_the_email_attaches_each_invoice_and_a_statement_as_real_pdfs(self, monday: MondayRun) -> None:
        (acme,) = [m for m in raw_emails(monday.system) if m["X-Arcollect-Customer-Id"] == "ACME"]
        files = attachments(acme)
        assert sorted(files) == ["invoice-N-A1.pdf", "invoice-N-A2.pdf", "statement-2026-03-02.pdf"]
        assert all(content.startswith(b"%PDF-") for content in files.values())

    def test_the_portal_link_verifies_for_that_customer_and_no_other(self, monday: MondayRun) -> None:
        for customer_id in ("ACME", "BERLIN", "PACIFIC"):
            (message,) = messages_to(monday.system, customer_id)
            (link,) = [link for link in message.links if link.startswith("http://portal.test/")]
            claims = verify_link(monday.system, link, sent_at(message))
            assert (claims.customer_id, claims.purpose) == (customer_id, "portal")

    @pytest.mark.parametrize("customer_id", ["ACME", "BERLIN", "PACIFIC"])
    def test_sent_at_is_inside_the_customers_window_on_the_run_day(self, monday: MondayRun, customer_id: str) -> None:
        timezone = {"ACME": "America/New_York", "BERLIN": "Europe/Berlin", "PACIFIC": "America/Los_Angeles"}
        (message,) = messages_to(monday.system, customer_id)
        assert in_window(STANDARD.send_window, sent_at(message), timezone[customer_id], TODAY), message.sent_at

    def test_an_invoice_younger_than_14_days_gets_nothing(self, monday: MondayRun) -> None:
        assert messages_to(monday.system, "YOUNG") == []
        young = invoice("Y1")
        assert (young.touches, young.steps_done) == (0, None)
        assert young.next_action_date is not None and young.next_action_date[:10] >= "2026-03-06"

    def test_paid_disputed_promised_and_held_invoices_are_left_out_of_the_customers_email(
        self, monday: MondayRun
    ) -> None:
        (message,) = messages_to(monday.system, "HOLDS")
        assert message.invoice_ids == ["H0"]
        for held in ("N-H1", "N-H2", "N-H3", "N-H4"):
            assert held not in message.body_text
        assert [invoice(i).touches for i in ("H1", "H2", "H3", "H4")] == [0, 0, 0, 0]
        skipped = monday.result["counts"]["skipped"]
        assert {reason: skipped.get(reason) for reason in ("disputed", "promised", "on_hold")} == {
            "disputed": 1,
            "promised": 1,
            "on_hold": 1,
        }

    def test_a_do_not_contact_customer_gets_nothing(self, monday: MondayRun) -> None:
        assert messages_to(monday.system, "QUIET") == []
        assert (invoice("Q1").touches, sends_of("QUIET")) == (0, [])
        assert monday.result["counts"]["skipped"].get("do_not_contact") == 1

    def test_a_broken_promise_is_dunned_again(self, monday: MondayRun) -> None:
        (message,) = messages_to(monday.system, "BROKEN")
        assert message.invoice_ids == ["K1"]
        assert invoice("K1").touches == 1

    def test_a_broken_promise_makes_a_task_for_the_collectors(self, monday: MondayRun) -> None:
        assert [(t.kind, list(t.invoice_ids or [])) for t in tasks_of("BROKEN")] == [("broken_promise", ["K1"])]

    def test_different_currencies_are_separate_sections_of_one_email(self, monday: MondayRun) -> None:
        (message,) = messages_to(monday.system, "MULTI")
        by_currency = sections(message.body_text)
        assert sorted(by_currency) == ["EUR", "USD"]
        assert "N-M1" in by_currency["USD"] and "N-M1" not in by_currency["EUR"]
        assert "N-M2" in by_currency["EUR"] and "N-M2" not in by_currency["USD"]

    def test_a_call_step_due_before_any_automated_touch_makes_no_task(self, monday: MondayRun) -> None:
        assert (messages_to(monday.system, "CALLER"), tasks_of("CALLER")) == ([], [])
        assert invoice("C1").touches == 0

    def test_the_run_counts_what_it_sent(self, monday: MondayRun) -> None:
        assert monday.result["status"] == "succeeded"
        assert monday.result["counts"]["sent"] == {"email": 6}


# --- late imports, replayed day by day ---------------------------------------------------------------------------

REPLAY_DAYS = tuple(dt.date(2026, 3, d) for d in (2, 3, 5, 6, 9, 12, 16))
REPLAY_DUE = dt.date(2026, 2, 4)  # imported on 2 March, 26 days late: every stage up to `firm` is behind it
REPLAY_PHONE = "+14155550102"


@dataclass
class Replay:
    system: DunningSystem
    sent_by_day: dict[dt.date, list[OutboxMessage]]

    def sent_on(self, day: dt.date, customer_id: str) -> list[OutboxMessage]:
        return to(self.sent_by_day[day], customer_id)

    def sent_to(self, customer_id: str) -> list[OutboxMessage]:
        return [m for day in REPLAY_DAYS for m in self.sent_on(day, customer_id)]


def step_position(step_id: str) -> int:
    """Where a step of the standard policy falls in date order."""
    return [s.id for s in sorted(STANDARD.steps, key=lambda s: s.offset_days)].index(step_id)


@pytest.fixture(scope="class")
def replay() -> Iterator[Replay]:
    with fresh_system() as system:
        apply_policy(policy_text(overrides="overrides:\n  customers:\n    GENTLE: {policy: gentle}\n"), POLICY_APPLIED)
        import_ledger(
            TODAY,
            [Customer("REPLAY", phone=REPLAY_PHONE), Customer("NOPHONE"), Customer("GENTLE")],
            [
                due_on("R1", "REPLAY", REPLAY_DUE),
                due_on("N1", "NOPHONE", REPLAY_DUE),
                due_on("G1", "GENTLE", dt.date(2026, 2, 27)),
            ],
        )
        pin_run_clock(MONDAY_RUN_AT)
        sent: dict[dt.date, list[OutboxMessage]] = {}
        for day in REPLAY_DAYS:
            before = outbox(system)
            system.run(day)
            sent[day] = new_messages(system, before)
        yield Replay(system, sent)


class TestALateImportReplayedDayByDay:
    def test_steps_go_out_in_the_policys_date_order(self, replay: Replay) -> None:
        steps = [s.steps[0] for s in sends_of("REPLAY")]
        assert len(steps) >= STANDARD.min_touches + 1, steps
        assert [step_position(s) for s in steps] == sorted({step_position(s) for s in steps}), steps

    def test_touches_are_at_least_min_gap_days_apart(self, replay: Replay) -> None:
        days = [dt.date.fromisoformat(str(s.local_date)) for s in sends_of("REPLAY")]
        assert all((later - earlier).days >= STANDARD.min_gap_days for earlier, later in itertools.pairwise(days)), days

    def test_the_final_notice_waits_for_min_touches_earlier_touches(self, replay: Replay) -> None:
        steps = [s.steps[0] for s in sends_of("REPLAY")]
        assert "final" in steps, steps
        assert steps.index("final") >= STANDARD.min_touches, steps
        assert replay.sent_on(REPLAY_DUE + dt.timedelta(days=30), "REPLAY") == []  # its own date came too early

    def test_every_touch_is_a_message_or_a_task_that_went_out(self, replay: Replay) -> None:
        sends = sends_of("REPLAY")
        assert {(s.status, s.channel) for s in sends} == {("sent", "email"), ("sent", "sms"), ("sent", "call")}
        assert invoice("R1").touches == len(sends)
        assert len(replay.sent_to("REPLAY")) == len([s for s in sends if s.channel != "call"])

    def test_an_sms_step_goes_through_sns_with_the_portal_link(self, replay: Replay) -> None:
        (sms,) = [m for m in replay.sent_to("REPLAY") if m.channel == "sms"]
        assert (sms.to, sms.invoice_ids, sms.steps) == (REPLAY_PHONE, ["R1"], ["late_sms"])
        (link,) = sms.links
        assert verify_link(replay.system, link, sent_at(sms)).customer_id == "REPLAY"

    def test_an_sms_step_for_a_customer_without_a_phone_goes_by_email(self, replay: Replay) -> None:
        sms_day = dt.date(2026, 3, 5)
        assert [(m.channel, m.to) for m in replay.sent_on(sms_day, "NOPHONE")] == [("email", "nophone@example.com")]
        assert [s.status for s in sends_of("NOPHONE")] == ["sent"] * len(sends_of("NOPHONE"))

    def test_a_call_step_becomes_a_task_for_the_collectors_after_automated_touches(self, replay: Replay) -> None:
        assert [list(t.invoice_ids or []) for t in tasks_of("REPLAY", "call")] == [["R1"]]
        channels = [s.channel for s in sends_of("REPLAY")]
        assert {"email", "sms"} & set(channels[: channels.index("call")])

    def test_the_worklist_lists_the_open_call_task(self, replay: Replay) -> None:
        assert [(t.kind, t.task_id) for t in open_tasks(100) if t.customer_id == "REPLAY"] == [
            ("call", t.task_id) for t in tasks_of("REPLAY", "call")
        ]

    def test_a_gentle_customer_hears_nothing_on_a_monday(self, replay: Replay) -> None:
        assert replay.sent_on(dt.date(2026, 3, 2), "GENTLE") == []
        assert len(replay.sent_on(dt.date(2026, 3, 3), "GENTLE")) == 1

    def test_a_customer_overridden_to_another_policy_is_stamped_inside_that_policys_window(
        self, replay: Replay
    ) -> None:
        tuesday = dt.date(2026, 3, 3)
        (message,) = replay.sent_on(tuesday, "GENTLE")
        assert in_window(GENTLE.send_window, sent_at(message), "America/New_York", tuesday), message.sent_at


# --- the calendar: the system's today, the hour of an hourly run, weekends and holidays -------------------------


@dataclass
class Calendar:
    system: DunningSystem
    scheduled_run: str
    after_scheduled_run: InvoiceRecord
    sent: dict[str, list[OutboxMessage]]


@pytest.fixture(scope="class")
def calendar() -> Iterator[Calendar]:
    with fresh_system() as system:
        apply_policy(policy_text(), POLICY_APPLIED)
        import_ledger(
            TODAY,
            [Customer("TODAYCO"), Customer("HOLIDAY")],
            [due_on("T1", "TODAYCO", dt.date(2026, 2, 20)), due_on("V1", "HOLIDAY", dt.date(2026, 5, 22))],
        )
        scheduled = system.start_run(None)  # as the hourly schedule starts it: no as_of, the system's own time
        assert system.wait(scheduled)["status"] == "SUCCEEDED"
        after_scheduled_run = invoice("T1")
        sent: dict[str, list[OutboxMessage]] = {}

        def record(name: str, run: Any) -> None:
            before = outbox(system)
            run()
            sent[name] = new_messages(system, before)

        berlin = Customer("EARLY", timezone="Europe/Berlin", country="DE")
        import_ledger(TODAY, [berlin], [due_on("E1", "EARLY", dt.date(2026, 2, 27))])
        pin_run_clock(dt.datetime(2026, 3, 2, 6, 0, tzinfo=UTC))  # 07:00 in Berlin: its window opens at 09:00
        record("hourly_before_berlin_opens", lambda: system.wait(system.start_run(None)))

        berlin = Customer("LATE", timezone="Europe/Berlin", country="DE")
        import_ledger(TODAY, [berlin], [due_on("L1", "LATE", dt.date(2026, 2, 27))])
        pin_run_clock(dt.datetime(2026, 3, 2, 20, 30, tzinfo=UTC))  # 21:30 in Berlin: its window has closed
        record("today_after_berlin_closed", lambda: system.run(TODAY))

        import_ledger(
            TODAY,
            [Customer("SATURDAY"), Customer("PAIDBYMONDAY")],
            # late_1 (due + 3) falls on Saturday 7 March.
            [due_on("S1", "SATURDAY", dt.date(2026, 3, 4)), due_on("S2", "PAIDBYMONDAY", dt.date(2026, 3, 4))],
        )
        record("saturday", lambda: system.run(dt.date(2026, 3, 7)))
        import_ledger(dt.date(2026, 3, 8), payments=[Payment("PAY-S2", "PAIDBYMONDAY", "S2", dt.date(2026, 3, 8))])
        record("monday", lambda: system.run(dt.date(2026, 3, 9)))
        # late_1 of V1 (due Friday 22 May) falls on Memorial Day, Monday 25 May 2026.
        record("memorial_day", lambda: system.run(dt.date(2026, 5, 25)))
        record("after_memorial_day", lambda: system.run(dt.date(2026, 5, 26)))
        yield Calendar(system, scheduled, after_scheduled_run, sent)


class TestTheCalendar:
    def test_a_scheduled_run_plans_with_the_systems_today_not_the_wall_clocks(self, calendar: Calendar) -> None:
        name = calendar.scheduled_run.rsplit(":", 1)[-1]
        (record,) = [r for r in DunningRunRecord.query(TODAY.isoformat()) if r.run_id == name]
        assert record.started_at.date() == TODAY
        # Sent today, or left for today's or tomorrow's window: a date in March either way, never the wall clock's.
        planned = calendar.after_scheduled_run
        assert planned.next_action_date is not None and planned.next_action_date.startswith("2026-03-0")
        assert planned.last_touch_on in (None, "2026-03-01", "2026-03-02")

    def test_an_hourly_run_before_a_customers_window_opens_sends_it_nothing_yet(self, calendar: Calendar) -> None:
        assert [m.sent_at for m in to(calendar.sent["hourly_before_berlin_opens"], "EARLY")] == []

    def test_a_run_for_today_after_a_window_closed_stamps_the_message_inside_it(self, calendar: Calendar) -> None:
        (message,) = to(calendar.sent["today_after_berlin_closed"], "LATE")
        assert in_window(STANDARD.send_window, sent_at(message), "Europe/Berlin", TODAY), message.sent_at

    def test_a_saturday_sends_nothing(self, calendar: Calendar) -> None:
        assert calendar.sent["saturday"] == []

    def test_the_step_that_fell_on_saturday_goes_out_on_monday(self, calendar: Calendar) -> None:
        (message,) = to(calendar.sent["monday"], "SATURDAY")
        assert (message.invoice_ids, message.steps) == (["S1"], ["late_1"])
        assert local_date(sent_at(message), "America/New_York") == dt.date(2026, 3, 9)

    def test_a_step_waiting_for_monday_is_not_sent_when_paid_by_then(self, calendar: Calendar) -> None:
        assert to(calendar.sent["monday"], "PAIDBYMONDAY") == []
        assert invoice("S2").touches == 0

    def test_a_us_holiday_sends_nothing_and_the_step_goes_out_the_next_day(self, calendar: Calendar) -> None:
        assert calendar.sent["memorial_day"] == []
        (message,) = to(calendar.sent["after_memorial_day"], "HOLIDAY")
        assert (message.invoice_ids, message.steps) == (["V1"], ["late_1"])
