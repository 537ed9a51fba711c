"""The dunning simulator over small hand-built ledgers: the replay rebuilds each day from the ledger's own
dates (payments arrive when the ledger says, older invoices arrive with the touches they would have had),
counts a customer's message once however many invoices it lists, compares two policies side by side, and is
a pure function that never touches what is paid and gives the same touches as planning every single day."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.dunning.model import CustomerState, InvoiceState, Policy, PolicyFile, Segment, SendWindow, Step
from shared.dunning.planner import plan_customer
from shared.dunning.policy import resolve_policy
from shared.dunning.simulate import SimInvoice, SimLedger, SimTouch, compare, sim_invoice, simulate
from shared.errors import ValidationError

EVERY_DAY = SendWindow(weekdays=frozenset(range(7)))


def due_step(step_id: str, offset: int, channel: str = "email", final: bool = False) -> Step:
    template = step_id if channel in ("email", "sms") else None
    return Step(step_id, "due_date", offset, channel, template, final)  # type: ignore[arg-type]


STANDARD = Policy(
    name="standard",
    send_window=EVERY_DAY,
    steps=(
        due_step("pre_due", -5),
        due_step("due", 0),
        due_step("late_1", 3),
        due_step("late_sms", 10, "sms"),
        due_step("call_1", 15, "call"),
        due_step("firm", 21),
        due_step("final", 30, final=True),
        due_step("agency", 45, "agency", final=True),
    ),
)
GENTLE = Policy(name="gentle", send_window=EVERY_DAY, steps=(due_step("due", 0), due_step("late_1", 10)))


def policy_file(policy: Policy = STANDARD) -> PolicyFile:
    return PolicyFile(policies={policy.name: policy}, segments=(Segment("default", policy.name),))


ACME = CustomerState("acme", ap_email_ok=True, has_phone=True, onboarding_status="active")
BOLT = CustomerState("bolt", ap_email_ok=True, has_phone=True, onboarding_status="active")
ISSUED = date(2026, 3, 2)
DUE = ISSUED + timedelta(days=30)  # 2026-04-01


def invoice(
    invoice_id: str = "INV-1", customer: str = "acme", *, issued: date = ISSUED, **changes: object
) -> SimInvoice:
    made = SimInvoice(invoice_id, customer, issued, issued + timedelta(days=30), "USD", 120_000)
    return replace(made, **changes)  # type: ignore[arg-type]


def ledger(*invoices: SimInvoice, customers: Sequence[CustomerState] = (ACME, BOLT)) -> SimLedger:
    return SimLedger({c.customer_id: c for c in customers}, list(invoices))


def steps_by_day(touches: Sequence[SimTouch]) -> list[tuple[str, tuple[str, ...]]]:
    return [(t.date.isoformat(), t.steps) for t in touches]


# --- the replay --------------------------------------------------------------------------------------------


def test_an_unpaid_invoice_gets_every_step_of_the_policy_on_its_day() -> None:
    result = simulate(ledger(invoice()), policy_file(), ISSUED, 90)

    assert steps_by_day(result.touches) == [
        ("2026-03-27", ("pre_due",)),
        ("2026-04-01", ("due",)),
        ("2026-04-04", ("late_1",)),
        ("2026-04-11", ("late_sms",)),
        ("2026-04-16", ("call_1",)),
        ("2026-04-22", ("firm",)),
        ("2026-05-01", ("final",)),
        ("2026-05-16", ("agency",)),
    ]
    assert [t.channel for t in result.touches][3:5] == ["sms", "call"]


def test_a_payment_arriving_mid_replay_stops_the_touches_from_its_day_on() -> None:
    # Given a payment the ledger shows arriving on 2026-04-09, after late_1 and before late_sms
    paid = invoice(applied=((date(2026, 4, 9), 120_000),))

    # When the replay starts before the invoice was even due
    result = simulate(ledger(paid), policy_file(), ISSUED, 90)

    # Then the reminders before the payment are planned and none after it
    assert steps_by_day(result.touches) == [
        ("2026-03-27", ("pre_due",)),
        ("2026-04-01", ("due",)),
        ("2026-04-04", ("late_1",)),
    ]
    assert result.totals.late_invoices == 1 and result.totals.late_touched_before_paid == 1


def test_a_partial_payment_leaves_the_rest_chased_and_one_below_tolerance_stops_it() -> None:
    partial = invoice("INV-1", applied=((date(2026, 4, 2), 60_000),))
    all_but_a_cent = invoice("INV-2", customer="bolt", applied=((date(2026, 4, 2), 119_999),))

    result = simulate(ledger(partial, all_but_a_cent), policy_file(), ISSUED, 90)

    assert len([t for t in result.touches if t.customer_id == "acme"]) == 8
    # pre_due and due, then a balance at or below the 1.00 tolerance
    assert [t.steps for t in result.touches if t.customer_id == "bolt"] == [("pre_due",), ("due",)]


def test_an_invoice_issued_before_from_arrives_with_its_earlier_touches_replayed() -> None:
    # Given an invoice whose first three steps fell before --from
    start = date(2026, 4, 10)

    result = simulate(ledger(invoice()), policy_file(), start, 60)

    # Then the window continues where the policy was, and prints nothing from before it
    assert steps_by_day(result.touches) == [
        ("2026-04-11", ("late_sms",)),
        ("2026-04-16", ("call_1",)),
        ("2026-04-22", ("firm",)),
        ("2026-05-01", ("final",)),
        ("2026-05-16", ("agency",)),
    ]
    assert "pre_due" not in result.totals.invoices_reaching_step or not result.totals.invoices_reaching_step["pre_due"]
    assert result.totals.first_touches == 0  # its first touch ever was before the window


def test_an_invoice_issued_inside_the_window_exists_from_its_issue_date() -> None:
    late_issue = invoice(issued=date(2026, 5, 1))

    result = simulate(ledger(late_issue), policy_file(), ISSUED, 90)

    assert steps_by_day(result.touches) == [("2026-05-26", ("pre_due",))]
    assert result.totals.invoices == 1 and result.totals.first_touch_age_min == 25


def test_invoices_paid_before_the_window_or_issued_after_it_are_not_counted() -> None:
    paid_before = invoice("INV-1", applied=((date(2026, 3, 20), 120_000),))
    issued_after = invoice("INV-2", issued=date(2026, 9, 1))

    result = simulate(ledger(paid_before, issued_after), policy_file(), date(2026, 4, 1), 30)

    assert result.touches == () and result.totals.invoices == 0


def test_a_customer_with_three_invoices_due_the_same_day_gets_one_message_a_day() -> None:
    three = [invoice(f"INV-{n}") for n in (3, 1, 2)]

    result = simulate(ledger(*three), policy_file(), ISSUED, 46)

    pre_due = result.touches[0]
    assert (pre_due.date, pre_due.invoice_ids, pre_due.steps) == (
        date(2026, 3, 27),
        ("INV-1", "INV-2", "INV-3"),
        ("pre_due",),
    )
    totals = result.totals
    assert totals.messages == 4 and totals.touches == 15  # 5 days: 4 emails/SMS and a call task, 3 invoices each
    assert totals.messages_per_day_max == 1
    assert totals.tasks == 1 and totals.channels == {"email": 3, "sms": 1, "call": 1}
    assert totals.touches_per_invoice_mean == 5.0 and totals.touches_per_invoice_max == 5


def test_two_customers_on_the_same_day_are_two_messages_and_quiet_days_count_in_the_median() -> None:
    result = simulate(ledger(invoice("INV-1"), invoice("INV-2", customer="bolt")), policy_file(), ISSUED, 90)

    assert result.totals.messages_per_day_max == 2
    assert result.totals.messages_per_day_median == 0.0  # most days of a quarter send nothing


def test_first_touch_age_is_counted_in_days_since_issue() -> None:
    young = invoice("INV-1")
    older = invoice("INV-2", customer="bolt", issued=ISSUED - timedelta(days=4))

    totals = simulate(ledger(young, older), policy_file(), ISSUED, 60).totals

    assert totals.first_touches == 2
    assert totals.first_touch_age_min == 25 and totals.first_touch_age_median == 25.0


def test_the_share_of_late_invoices_touched_counts_what_a_hold_kept_quiet() -> None:
    chased = invoice("INV-1")
    disputed = invoice("INV-2", customer="bolt", dispute_id="D-1")
    paid_on_time = invoice("INV-3", applied=((DUE - timedelta(days=1), 120_000),))

    totals = simulate(ledger(chased, disputed, paid_on_time), policy_file(), ISSUED, 60).totals

    assert (totals.late_invoices, totals.late_touched_before_paid, totals.late_touched_share) == (2, 1, 0.5)


def test_a_broken_promise_resumes_dunning_and_counts_a_call_task() -> None:
    promised = invoice(promise_date=date(2026, 4, 10))

    result = simulate(ledger(promised), policy_file(), ISSUED, 60)

    # Promised until 04-10 plus 3 days' grace: nothing before 04-14, then the latest stage due
    assert all(t.date >= date(2026, 4, 14) for t in result.touches)
    assert result.touches[0].date == date(2026, 4, 14)
    assert result.totals.broken_promises == 1 and result.totals.tasks >= 2


def test_an_invoice_whose_customer_is_not_stored_is_counted_apart() -> None:
    orphan = invoice(customer="nobody")

    result = simulate(ledger(orphan), policy_file(), ISSUED, 60)

    assert result.touches == () and result.totals.invoices_without_customer == 1


def test_days_out_of_range_are_refused() -> None:
    with pytest.raises(ValidationError):
        simulate(ledger(invoice()), policy_file(), ISSUED, 0)
    with pytest.raises(ValidationError):
        simulate(ledger(invoice()), policy_file(), ISSUED, 3651)


# --- comparing -------------------------------------------------------------------------------------------------


def test_two_policies_are_compared_over_the_same_ledger_and_days() -> None:
    both = ledger(invoice("INV-1"), invoice("INV-2", customer="bolt", applied=((date(2026, 4, 5), 120_000),)))

    comparison = compare(both, policy_file(STANDARD), policy_file(GENTLE), ISSUED, 90)

    assert comparison.a.totals.touches == 8 + 3 and comparison.b.totals.touches == 2 + 1
    assert comparison.a.totals.invoices_reaching_step["agency"] == 1
    assert comparison.b.totals.invoices_reaching_step == {"due": 2, "late_1": 1}
    side_by_side = comparison.to_json()
    assert side_by_side["a"]["touches"] == 11 and side_by_side["b"]["touches"] == 3
    json.dumps(side_by_side)  # JSON-able as it is


def test_totals_and_touches_are_json_able() -> None:
    result = simulate(ledger(invoice()), policy_file(), ISSUED, 60)

    document = json.loads(json.dumps(result.to_json()))

    assert document["touches"][0] == {
        "date": "2026-03-27",
        "customer_id": "acme",
        "invoice_ids": ["INV-1"],
        "channel": "email",
        "steps": ["pre_due"],
        "template": "pre_due",
        "fallback_from": None,
    }
    assert document["totals"]["messages_per_day"] == {"max": 1, "median": 0.0}
    assert document["totals"]["late_invoices"] == {"count": 1, "touched_before_paid": 1, "share": 1.0}


# --- from a stored invoice -----------------------------------------------------------------------------------


def stored(**fields: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "invoice_id": "INV-1",
        "customer_id": "acme",
        "issue_date": "2026-03-02",
        "due_date": "2026-04-01",
        "currency": "USD",
        "amount_minor": 120_000,
        "balance_minor": 120_000,
        "applied": [],
        "paid_on": None,
        "erp_balance_on": None,
        "dispute_id": None,
        "promise_date": None,
        "payment_in_progress": None,
        "hold_until": None,
        "dunning_excluded": False,
        "policy_override": None,
    }
    return SimpleNamespace(**(values | fields))


def test_a_stored_invoice_keeps_its_payments_with_their_dates() -> None:
    record = stored(
        balance_minor=20_000,
        applied=[SimpleNamespace(paid_on="2026-04-09", amount_minor=100_000)],
        promise_date="2026-05-01",
    )

    made = sim_invoice(record)

    assert made.applied == ((date(2026, 4, 9), 100_000),)
    assert made.promise_date == date(2026, 5, 1)


def test_what_the_erps_balance_settled_without_a_document_is_dated_the_day_it_said_so() -> None:
    record = stored(balance_minor=0, erp_balance_on="2026-04-20", paid_on="2026-04-20", status="paid")

    made = sim_invoice(record)

    assert made.applied == ((date(2026, 4, 20), 120_000),)
    touched = simulate(ledger(made), policy_file(), ISSUED, 90).touches
    assert max(t.date for t in touched) < date(2026, 4, 20)


# --- properties ------------------------------------------------------------------------------------------------

START = date(2026, 6, 1)
POLICIES = (
    STANDARD,
    GENTLE,
    Policy(
        name="weekdays",
        min_touches=2,
        min_gap_days=5,
        send_window=SendWindow(holidays="US"),
        steps=(
            Step("early", "invoice_date", 10, "email", "early"),
            due_step("due", 0),
            Step("big_only", "due_date", 7, "call", None, False, Decimal("500.00")),
            due_step("final", 20, final=True),
        ),
    ),
)


@st.composite
def ledgers(draw: st.DrawFn) -> SimLedger:
    customers = [
        CustomerState(
            f"C{n}",
            ap_email_ok=draw(st.sampled_from([True, True, False])),
            has_phone=draw(st.booleans()),
            onboarding_status="active",
            hold_until=draw(st.none() | st.dates(START - timedelta(days=30), START + timedelta(days=40))),
        )
        for n in range(draw(st.integers(1, 3)))
    ]
    invoices = []
    for n in range(draw(st.integers(1, 7))):
        issued = START + timedelta(days=draw(st.integers(-90, 40)))
        amount = draw(st.integers(50, 200_000))
        payments = draw(st.lists(st.tuples(st.integers(-10, 160), st.integers(1, amount)), max_size=2))
        invoices.append(
            SimInvoice(
                f"I{n}",
                draw(st.sampled_from([c.customer_id for c in customers])),
                issued,
                issued + timedelta(days=draw(st.sampled_from([0, 10, 30, 45]))),
                "USD",
                amount,
                tuple(sorted((issued + timedelta(days=d), paid) for d, paid in payments)),
                dispute_id=draw(st.sampled_from([None, None, None, "D"])),
                promise_date=draw(st.none() | st.dates(START - timedelta(days=40), START + timedelta(days=40))),
            )
        )
    return SimLedger({c.customer_id: c for c in customers}, invoices)


def policy_files() -> st.SearchStrategy[PolicyFile]:
    return st.sampled_from(POLICIES).map(policy_file)


PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTIES
@given(ledgers(), policy_files(), st.integers(1, 70), st.randoms(use_true_random=False))
def test_the_simulation_is_a_pure_function_of_its_inputs_whatever_order_the_ledger_lists(
    data: SimLedger, policies: PolicyFile, days: int, rng: object
) -> None:
    shuffled = list(data.invoices)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]

    first = simulate(data, policies, START, days)
    again = simulate(SimLedger(dict(reversed(list(data.customers.items()))), shuffled), policies, START, days)

    assert first == again


@PROPERTIES
@given(ledgers(), policy_files(), st.integers(1, 70))
def test_never_a_touch_for_an_invoice_on_a_day_it_is_already_paid(
    data: SimLedger, policies: PolicyFile, days: int
) -> None:
    result = simulate(data, policies, START, days)

    by_id = {i.invoice_id: i for i in data.invoices}
    for touch in result.touches:
        assert START <= touch.date < START + timedelta(days=days)
        for invoice_id in touch.invoice_ids:
            paid = sum(amount for day, amount in by_id[invoice_id].applied if day <= touch.date)
            assert paid < by_id[invoice_id].amount_minor, (touch, by_id[invoice_id])


def every_day(data: SimLedger, policies: PolicyFile, start: date, days: int) -> list[SimTouch]:
    """The reference: every customer planned on every day from its first invoice's issue date, no skipping."""
    end = start + timedelta(days=days - 1)
    touches: list[SimTouch] = []
    for customer in data.customers.values():
        mine = [i for i in data.invoices if i.customer_id == customer.customer_id]
        if not mine:
            continue
        progress: dict[str, tuple[int, frozenset[str], date | None, date | None]] = {
            i.invoice_id: (0, frozenset(), None, i.promise_date) for i in mine
        }

        def choose(state: InvoiceState, customer: CustomerState = customer) -> tuple[Policy | None, bool]:
            resolution = resolve_policy(policies, customer, state)
            return resolution.policy, bool(resolution.segment and resolution.segment.require_verified_master_data)

        day = min(i.issue_date for i in mine)
        while day <= end:
            states = []
            for i in mine:
                balance = i.amount_minor - sum(a for d, a in i.applied if d <= day)
                if i.issue_date <= day and balance > 0:
                    count, done, last, promise = progress[i.invoice_id]
                    states.append(i.state_on(balance, count, done, last, promise))
            plan = plan_customer(customer, states, choose, day)
            for decision in plan.decisions:
                if decision.broken_promise:
                    count, done, last, _ = progress[decision.invoice_id]
                    progress[decision.invoice_id] = (count, done, last, None)
            for touch in plan.touches:
                for item in touch.items:
                    count, done, _, promise = progress[item.invoice_id]
                    progress[item.invoice_id] = (count + 1, done | {item.step_id}, day, promise)
                if day >= start:
                    touches.append(
                        SimTouch(
                            day,
                            touch.customer_id,
                            touch.invoice_ids,
                            touch.channel,
                            touch.steps,
                            touch.template,
                            touch.fallback_from,
                        )
                    )
            day += timedelta(days=1)
    return sorted(touches, key=lambda t: (t.date, t.customer_id, t.channel))


@PROPERTIES
@given(ledgers(), policy_files(), st.integers(1, 70))
def test_planning_only_the_days_that_can_change_something_gives_the_touches_of_planning_every_day(
    data: SimLedger, policies: PolicyFile, days: int
) -> None:
    skipping = simulate(data, policies, START, days).touches

    reference = every_day(data, policies, START, days)

    assert sorted(skipping, key=lambda t: (t.date, t.customer_id, t.channel)) == reference
