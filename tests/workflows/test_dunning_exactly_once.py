"""Exactly once (PRODUCT.md 1.3 rule 7), against the real ASL under moto: a conditional write claims each
customer·channel·day message before it leaves, so re-running a day, a Lambda the state machine retries and
two runs of one day at once never send twice; a send that fails is retried through the queue, then becomes a
task, and a claim a crash left unsent is handed to that queue by the run's last step — never dropped."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcollect.local.outbox import OutboxMessage
from shared.data.tables import CustomerRecord, InvoiceRecord, SendRecord
from shared.dunning.dispatch import DeliveryError
from shared.dunning.window import local_date
from tests.workflows.conftest import DunningSystem, apply_policy
from tests.workflows.ledgers import (
    TODAY,
    Customer,
    drain_now,
    due_on,
    fresh_system,
    import_ledger,
    invoice,
    new_messages,
    outbox,
    pin_run_clock,
    policy_text,
    queued,
    sends_of,
    tasks_of,
)

UTC = dt.UTC
POLICY_APPLIED = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RUN_AT = dt.datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 10:30 in New York
PAIR = (Customer("ONE"), Customer("TWO", timezone="Europe/Berlin", country="DE"))
PAIR_INVOICES = (
    due_on("O1", "ONE", dt.date(2026, 2, 20)),
    due_on("O2", "ONE", dt.date(2026, 2, 27)),
    due_on("W1", "TWO", dt.date(2026, 2, 27)),
)


def per_customer_channel_day(messages: list[OutboxMessage], timezone: Callable[[str], str]) -> Counter[Any]:
    return Counter((m.customer_id, m.channel, local_date(sent_at(m), timezone(str(m.customer_id)))) for m in messages)


def sent_at(message: OutboxMessage) -> dt.datetime:
    assert message.sent_at is not None
    return dt.datetime.fromisoformat(message.sent_at.replace("Z", "+00:00"))


def pair_timezone(customer_id: str) -> str:
    return "Europe/Berlin" if customer_id == "TWO" else "America/New_York"


def touches(*invoice_ids: str) -> dict[str, tuple[int, frozenset[str], str | None]]:
    out: dict[str, tuple[int, frozenset[str], str | None]] = {}
    for invoice_id in invoice_ids:
        record = invoice(invoice_id)
        out[invoice_id] = (int(record.touches or 0), frozenset(record.steps_done or ()), record.last_touch_on)
    return out


def start_pair(system: DunningSystem) -> None:
    apply_policy(policy_text(), POLICY_APPLIED)
    import_ledger(TODAY, PAIR, PAIR_INVOICES)
    pin_run_clock(RUN_AT)


def dispatch_services() -> Any:
    from functions.dunning_dispatch import handler

    return handler.services()


def retry_services() -> Any:
    from functions.dunning_send_retry import handler

    return handler.services()


# --- two runs of one day at once, then the day again ---------------------------------------------------------


@dataclass
class Overlap:
    results: list[dict[str, Any]]
    after_overlap: list[OutboxMessage]
    touches_after_overlap: dict[str, tuple[int, frozenset[str], str | None]]
    rerun: dict[str, Any] = field(default_factory=dict)
    after_rerun: list[OutboxMessage] = field(default_factory=list)
    touches_after_rerun: dict[str, tuple[int, frozenset[str], str | None]] = field(default_factory=dict)


@pytest.fixture(scope="class")
def overlap() -> Iterator[Overlap]:
    with fresh_system() as system:
        start_pair(system)
        started = [system.start_run(TODAY), system.start_run(TODAY)]
        results = [system.wait(arn) for arn in started]
        seen = Overlap(results, outbox(system), touches("O1", "O2", "W1"))
        seen.rerun = system.run(TODAY)
        seen.after_rerun = outbox(system)
        seen.touches_after_rerun = touches("O1", "O2", "W1")
        yield seen


class TestTwoRunsOfOneDayThenTheDayAgain:
    def test_two_overlapping_runs_of_one_day_send_one_message_per_customer(self, overlap: Overlap) -> None:
        assert [r["status"] for r in overlap.results] == ["SUCCEEDED", "SUCCEEDED"]
        counts = per_customer_channel_day(overlap.after_overlap, pair_timezone)
        assert counts == {("ONE", "email", TODAY): 1, ("TWO", "email", TODAY): 1}

    def test_the_one_message_lists_every_due_invoice_of_the_customer(self, overlap: Overlap) -> None:
        listed = {m.customer_id: sorted(m.invoice_ids or []) for m in overlap.after_overlap}
        assert listed == {"ONE": ["O1", "O2"], "TWO": ["W1"]}
        assert {i: t[0] for i, t in overlap.touches_after_overlap.items()} == {"O1": 1, "O2": 1, "W1": 1}

    def test_re_running_the_day_sends_nothing_more(self, overlap: Overlap) -> None:
        assert [m.message_id for m in overlap.after_rerun] == [m.message_id for m in overlap.after_overlap]
        assert overlap.rerun["counts"]["sent"] == {}

    def test_re_running_the_day_touches_no_invoice_again(self, overlap: Overlap) -> None:
        assert overlap.touches_after_rerun == overlap.touches_after_overlap


# --- a dispatch Lambda the state machine retries ----------------------------------------------------------------


@dataclass
class Retried:
    result: dict[str, Any]
    messages: list[OutboxMessage]
    dispatch_calls: int


@pytest.fixture(scope="class")
def retried() -> Iterator[Retried]:
    from functions.dunning_dispatch.handler import handler as real_dispatch

    with fresh_system() as system:
        start_pair(system)
        calls: list[str] = []

        def sent_then_lost(event: Any, context: Any) -> Any:
            """The batch runs to the end, then its reply is lost (a timeout, a dropped connection): the state
            machine's Retry invokes the same batch again."""
            result = real_dispatch(event, context)
            calls.append(event["batch"]["batch_id"])
            if len(calls) == 1:
                raise TimeoutError("the reply of the first attempt was lost")
            return result

        system.router.register("dunning_dispatch", sent_then_lost)
        result = system.run(TODAY)
        yield Retried(result, outbox(system), len(calls))


class TestARetriedDispatchLambda:
    def test_the_state_machine_retried_the_batch(self, retried: Retried) -> None:
        assert retried.dispatch_calls == 2

    def test_a_retried_batch_sends_one_message_per_customer_channel_day(self, retried: Retried) -> None:
        counts = per_customer_channel_day(retried.messages, pair_timezone)
        assert counts == {("ONE", "email", TODAY): 1, ("TWO", "email", TODAY): 1}
        assert {i: t[0] for i, t in touches("O1", "O2", "W1").items()} == {"O1": 1, "O2": 1, "W1": 1}

    def test_the_run_still_counts_what_the_first_attempt_sent(self, retried: Retried) -> None:
        assert retried.result["counts"]["sent"] == {"email": 2}


# --- a run's last step and another run's claim in flight -----------------------------------------------------


class HeldDelivery:
    """The real delivery, except that the claims of one run are held between claim and delivery until released
    (a slow send: rendering, PDFs, SES's latency)."""

    def __init__(self, real: Any, held_run: str) -> None:
        self.real = real
        self.held_run = held_run
        self.claimed = threading.Event()
        self.release = threading.Event()

    def deliver(self, send: SendRecord, customer: CustomerRecord, now: dt.datetime) -> str | None:
        if send.run_id == self.held_run:
            self.claimed.set()
            if not self.release.wait(120):
                raise DeliveryError("the test never released the held delivery")
        delivered: str | None = self.real.deliver(send, customer, now)
        return delivered


@pytest.fixture(scope="class")
def sweep_race() -> Iterator[list[OutboxMessage]]:
    with fresh_system() as system:
        apply_policy(policy_text(), POLICY_APPLIED)
        import_ledger(TODAY, [Customer("SLOW")], [due_on("L1", "SLOW", dt.date(2026, 2, 27))])
        pin_run_clock(RUN_AT)
        services = dispatch_services()
        held = HeldDelivery(services.deliverer, "slow-run")
        services.deliverer = held
        slow = system.start_run(TODAY, name="slow-run")
        try:
            assert held.claimed.wait(120), "the slow run never claimed its message"
            second = system.wait(system.start_run(TODAY, name="second-run"))
            assert second["status"] == "SUCCEEDED"
            drain_now(system, "dunning_send_retry")  # the retry Lambda, as SQS would invoke it at once
        finally:
            held.release.set()
        assert system.wait(slow)["status"] == "SUCCEEDED"
        yield outbox(system)


class TestAnotherRunsClaimInFlight:
    def test_a_claim_being_sent_by_a_slow_run_is_not_sent_again_by_the_retry_queue(
        self, sweep_race: list[OutboxMessage]
    ) -> None:
        assert [(m.customer_id, m.channel) for m in sweep_race] == [("SLOW", "email")]


# --- sends that fail ---------------------------------------------------------------------------------------------


class ScriptedDelivery:
    """The real delivery, except for the customers named: `first` raise their exception on the first attempt
    only, `always` raise DeliveryError on every attempt."""

    def __init__(self, real: Any, first: dict[str, Exception] | None = None, always: frozenset[str] = frozenset()):
        self.real = real
        self.first = dict(first or {})
        self.always = always

    def deliver(self, send: SendRecord, customer: CustomerRecord, now: dt.datetime) -> str | None:
        if send.customer_id in self.always:
            raise DeliveryError("email could not be handed over: MessageRejected")
        failure = self.first.pop(send.customer_id, None)
        if failure is not None:
            raise failure
        delivered: str | None = self.real.deliver(send, customer, now)
        return delivered


@dataclass
class Failures:
    first_run: dict[str, Any]
    statuses_after_first_run: dict[str, list[str]]
    queued_after_first_run: int
    next_run: dict[str, Any]
    messages: list[OutboxMessage]
    queued_after_drain: int
    dead_letters: int


def dead_letters(system: DunningSystem) -> int:
    sqs = system.emulator.client("sqs")
    url = sqs.get_queue_url(QueueName=system.emulator.deployment.names.send_retry_dead_letter_queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture(scope="class")
def failures() -> Iterator[Failures]:
    with fresh_system() as system:
        apply_policy(policy_text(), POLICY_APPLIED)
        names = ("CRASH", "DOOMED", "FLAKY")
        import_ledger(TODAY, [Customer(n) for n in names], [due_on(f"{n}-1", n, dt.date(2026, 2, 27)) for n in names])
        pin_run_clock(RUN_AT)
        dispatch = dispatch_services()
        dispatch.deliverer = ScriptedDelivery(
            dispatch.deliverer,
            first={
                # Dies between its claim and its delivery: the Lambda fails, the state machine retries the batch.
                "CRASH": RuntimeError("the container died"),
                "FLAKY": DeliveryError("email could not be handed over: Throttling"),
            },
            always=frozenset({"DOOMED"}),
        )
        retry = retry_services()
        retry.deliverer = ScriptedDelivery(retry.deliverer, always=frozenset({"DOOMED"}))
        first_run = system.run(TODAY)
        statuses = {n: [s.status for s in sends_of(n)] for n in names}
        waiting = queued(system, "dunning_send_retry")
        pin_run_clock(RUN_AT + dt.timedelta(hours=1))  # the next hourly run
        next_run = system.run(TODAY)
        drain_now(system, "dunning_send_retry")
        yield Failures(
            first_run,
            statuses,
            waiting,
            next_run,
            outbox(system),
            queued(system, "dunning_send_retry"),
            dead_letters(system),
        )


class TestSendsThatFail:
    def test_a_failed_send_is_marked_failed_and_handed_to_the_retry_queue(self, failures: Failures) -> None:
        assert failures.statuses_after_first_run["FLAKY"] == ["failed"]
        assert failures.statuses_after_first_run["DOOMED"] == ["failed"]
        assert failures.first_run["counts"]["failed"] == 2
        assert failures.queued_after_first_run == 2

    def test_a_failed_send_is_retried_and_sent_once(self, failures: Failures) -> None:
        assert [(m.customer_id, m.channel) for m in failures.messages if m.customer_id == "FLAKY"] == [
            ("FLAKY", "email")
        ]
        assert [s.status for s in sends_of("FLAKY")] == ["sent"]

    def test_a_send_failing_three_times_becomes_a_send_failed_task(self, failures: Failures) -> None:
        assert [m for m in failures.messages if m.customer_id == "DOOMED"] == []
        assert [s.status for s in sends_of("DOOMED")] == ["task"]
        (task,) = tasks_of("DOOMED")
        assert (task.kind, list(task.invoice_ids or []), task.due) == ("send_failed", ["DOOMED-1"], "2026-03-02")
        assert "MessageRejected" in task.reason

    def test_a_claim_left_pending_by_a_crash_is_swept_to_the_retry_queue_by_the_next_run_and_sent_once(
        self, failures: Failures
    ) -> None:
        assert failures.statuses_after_first_run["CRASH"] == ["claimed"]
        assert failures.next_run["counts"]["retrying"] >= 1
        assert [(m.customer_id, m.channel) for m in failures.messages if m.customer_id == "CRASH"] == [
            ("CRASH", "email")
        ]
        assert [s.status for s in sends_of("CRASH")] == ["sent"]

    def test_nothing_is_left_in_the_queues_or_dropped_to_the_dead_letters(self, failures: Failures) -> None:
        assert (failures.queued_after_drain, failures.dead_letters) == (0, 0)


# --- any order and repetition of run days ------------------------------------------------------------------------

RUN_DAYS = tuple(dt.date(2026, 3, d) for d in (2, 3, 5, 6, 9))
_example = itertools.count()


@pytest.fixture(scope="class")
def replays() -> Iterator[DunningSystem]:
    with fresh_system() as system:
        apply_policy(policy_text(), POLICY_APPLIED)
        pin_run_clock(RUN_AT)
        yield system


def retire(invoice_ids: list[str]) -> None:
    """Take an earlier example's invoices out of the next-action index, so later runs do not plan them."""
    for invoice_id in invoice_ids:
        invoice(invoice_id).update(
            actions=[InvoiceRecord.next_action_shard.remove(), InvoiceRecord.next_action_date.remove()]
        )


class TestAnyOrderAndRepetitionOfRunDays:
    @settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(days=st.lists(st.sampled_from(RUN_DAYS), min_size=2, max_size=4))
    def test_never_two_messages_per_customer_channel_day_and_a_day_run_again_adds_none(
        self, replays: DunningSystem, days: list[dt.date]
    ) -> None:
        n = next(_example)
        customers = [Customer(f"X{n}A", phone=f"+1415555{n:04d}"), Customer(f"X{n}B")]
        invoices = [
            due_on(f"X{n}A-1", f"X{n}A", dt.date(2026, 2, 4)),  # late: a touch is due every few days
            due_on(f"X{n}A-2", f"X{n}A", dt.date(2026, 2, 27)),
            due_on(f"X{n}B-1", f"X{n}B", dt.date(2026, 3, 2)),
        ]
        import_ledger(TODAY, customers, invoices)
        ours = {c.customer_id for c in customers}
        run_already: set[dt.date] = set()
        try:
            for day in days:
                before = outbox(replays)
                replays.run(day)
                added = [m for m in new_messages(replays, before) if m.customer_id in ours]
                if day in run_already:
                    assert added == [], f"re-running {day} sent {[(m.customer_id, m.channel) for m in added]}"
                run_already.add(day)
            ours_sent = [m for m in outbox(replays) if m.customer_id in ours]
            counts = per_customer_channel_day(ours_sent, lambda _: "America/New_York")
            assert max(counts.values(), default=1) == 1, counts
            for record in invoices:
                listed = [s for c in ours for s in sends_of(c) if record.invoice_id in (s.invoice_ids or [])]
                assert invoice(record.invoice_id).touches == len(listed), record.invoice_id
        finally:
            retire([i.invoice_id for i in invoices])
