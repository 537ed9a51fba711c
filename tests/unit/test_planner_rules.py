"""The rules of PRODUCT.md 1.3 hold whatever the policy says: generated policies, invoices, customers and
events (payments, disputes, promises, holds), replayed day by day the way the run applies decisions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.dunning.model import (
    AUTOMATED_CHANNELS,
    CHANNELS,
    HOLD_REASONS,
    WEEKDAYS,
    CustomerState,
    Decision,
    InvoiceState,
    Policy,
    SendWindow,
    Step,
)
from shared.dunning.planner import email_usable, plan_customer, plan_invoice, route
from shared.dunning.window import is_send_day, next_send_day

DAYS = 130
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- what is generated ----------------------------------------------------------------------------------


@st.composite
def steps(draw: st.DrawFn) -> tuple[Step, ...]:
    count = draw(st.integers(1, 8))
    made = []
    for index in range(count):
        channel = draw(st.sampled_from(CHANNELS))
        made.append(
            Step(
                id=f"s{index}",
                anchor=draw(st.sampled_from(["invoice_date", "due_date"])),
                offset_days=draw(st.integers(-10, 70)),
                channel=channel,
                template=f"t{index}" if channel in AUTOMATED_CHANNELS else None,
                final=draw(st.booleans()) if index else False,
                min_balance=draw(st.one_of(st.none(), st.none(), st.none(), st.decimals(0, 2000, places=2))),
            )
        )
    return tuple(made)


windows = st.builds(
    SendWindow,
    weekdays=st.frozensets(st.integers(0, len(WEEKDAYS) - 1), min_size=1),
    holidays=st.sampled_from([None, "US", "GB", "customer"]),
)
policies = st.builds(
    Policy,
    name=st.just("generated"),
    steps=steps(),
    first_touch_min_age_days=st.integers(0, 20),
    min_touches=st.integers(0, 5),
    min_gap_days=st.integers(0, 5),
    tolerance=st.sampled_from([Decimal("0"), Decimal("1.00"), Decimal("25.50")]),
    send_window=windows,
    promise_grace_days=st.integers(0, 5),
)


@st.composite
def customers(draw: st.DrawFn, reachable: bool = False) -> CustomerState:
    seldom = st.sampled_from([False] * 12 + [True])
    invited = draw(st.sampled_from(["erp"] * 5 + ["invited"]))
    return CustomerState(
        customer_id="cust",
        country=draw(st.sampled_from(["US", "GB", None])),
        origin=invited,
        onboarding_status=draw(st.sampled_from(["active", "active", "invited", "validating"])),
        ap_email_ok=True if reachable else draw(st.sampled_from([True] * 4 + [False])),
        email_verified=draw(st.booleans()),
        email_bounced=False if reachable else draw(seldom),
        has_phone=True if reachable else draw(st.booleans()),
        do_not_contact=False if reachable else draw(seldom),
        auto_pay=False if reachable else draw(seldom),
        hold_until=None if reachable or not draw(seldom) else draw(st.dates(date(2026, 1, 1), date(2026, 12, 31))),
    )


@st.composite
def invoices(draw: st.DrawFn, invoice_id: str = "inv") -> InvoiceState:
    issued = draw(st.dates(date(2026, 1, 1), date(2026, 12, 31)))
    amount = draw(st.integers(1, 500_000))
    return InvoiceState(
        invoice_id=invoice_id,
        customer_id="cust",
        issue_date=issued,
        due_date=issued + timedelta(days=draw(st.integers(0, 90))),
        currency=draw(st.sampled_from(["USD", "USD", "EUR", "JPY"])),
        amount_minor=amount,
        balance_minor=amount,
    )


# (day number from the issue date, what happens, a number of days or an amount)
EVENT_KINDS = ("pay", "pay_part", "dispute", "resolve", "promise", "hold", "in_payment", "settled_late")
events = st.lists(st.tuples(st.integers(0, DAYS), st.sampled_from(EVENT_KINDS), st.integers(0, 12)), max_size=4)


@dataclass(frozen=True)
class Case:
    policy: Policy
    customer: CustomerState
    invoice: InvoiceState
    events: tuple[tuple[int, str, int], ...]
    closed_days: frozenset[int]  # days whose run came after the window had closed
    require_verified: bool


@st.composite
def cases(draw: st.DrawFn, reachable: bool = False, quiet: bool = False) -> Case:
    return Case(
        policy=draw(policies),
        customer=draw(customers(reachable)),
        invoice=draw(invoices()),
        events=() if quiet else tuple(draw(events)),
        closed_days=frozenset() if quiet else draw(st.frozensets(st.integers(0, DAYS), max_size=3)),
        require_verified=False if reachable else draw(st.sampled_from([False] * 4 + [True])),
    )


# --- the day-by-day driver: what the run does with each decision -------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    state: InvoiceState  # as planned (after the day's events)
    decision: Decision
    again: Decision  # the same day planned once more after applying the decision
    event: bool  # something outside the planner changed the invoice today
    closed: bool


def happen(state: InvoiceState, kind: str, amount: int, day: date) -> InvoiceState:
    if kind == "pay":
        return replace(state, status="paid", balance_minor=0)
    if kind == "pay_part":
        return replace(state, balance_minor=max(1, state.balance_minor - amount * 997))
    if kind == "dispute":
        return replace(state, dispute_id="D-1")
    if kind == "resolve":
        return replace(state, dispute_id=None)
    if kind == "promise":
        return replace(state, promise_date=day + timedelta(days=amount))
    if kind == "hold":
        return replace(state, hold_until=day + timedelta(days=amount))
    if kind == "in_payment":
        return replace(state, payment_in_progress="P-1")
    return replace(state, payment_in_progress=None)


def touched(state: InvoiceState, step: Step, day: date) -> InvoiceState:
    return replace(state, touches=state.touches + 1, steps_done=state.steps_done | {step.id}, last_touch_on=day)


def simulate(case: Case, days: int = DAYS) -> list[Day]:
    state = case.invoice
    trace = []
    for number in range(days):
        day = case.invoice.issue_date + timedelta(days=number)
        todays = [(kind, amount) for when, kind, amount in case.events if when == number]
        for kind, amount in todays:
            state = happen(state, kind, amount, day)
        closed = number in case.closed_days
        decision = plan(case, state, day, closed)
        planned = state
        if decision.broken_promise:
            state = replace(state, promise_date=None)  # the run turns a broken promise into a call task
        if decision.step is not None:
            state = touched(state, decision.step, day)
        trace.append(Day(day, planned, decision, plan(case, state, day, closed), bool(todays), closed))
    return trace


def plan(case: Case, state: InvoiceState, day: date, closed: bool) -> Decision:
    return plan_invoice(
        state,
        case.customer,
        case.policy,
        day,
        require_verified_master_data=case.require_verified,
        window_closed_today=closed,
    )


def touches(trace: list[Day]) -> list[Day]:
    return [entry for entry in trace if entry.decision.step is not None]


def step_day(step: Step, invoice: InvoiceState) -> date:
    anchor = invoice.due_date if step.anchor == "due_date" else invoice.issue_date
    return anchor + timedelta(days=step.offset_days)


def first_touch_day(case: Case) -> date:
    return case.invoice.issue_date + timedelta(days=case.policy.first_touch_min_age_days)


# --- every decision ---------------------------------------------------------------------------------------


@EXAMPLES
@given(cases())
def test_every_decision_is_a_touch_or_a_known_reason_never_both(case: Case) -> None:
    for entry in simulate(case):
        decision = entry.decision
        assert (decision.step is None) != (decision.hold_reason is None)
        assert decision.hold_reason is None or decision.hold_reason in HOLD_REASONS
        assert decision.policy == case.policy.name
        assert all(reason in {"too_young", "superseded", "below_min_balance"} for _, reason in decision.skipped)


@EXAMPLES
@given(cases())
def test_a_next_action_date_is_always_a_later_send_day(case: Case) -> None:
    for entry in simulate(case):
        next_day = entry.decision.next_action_date
        if next_day is not None:
            assert next_day > entry.day
            assert is_send_day(case.policy.send_window, next_day, case.customer.country)


# --- rule 1: no touch before the invoice is first_touch_min_age_days old; a skipped step is not sent late -----


@EXAMPLES
@given(cases())
def test_rule_1_no_touch_before_the_invoice_is_old_enough_and_no_step_dated_earlier_is_ever_sent(case: Case) -> None:
    first = first_touch_day(case)
    for entry in touches(simulate(case)):
        assert entry.day >= first
        assert entry.decision.step is not None
        assert step_day(entry.decision.step, case.invoice) >= first


@EXAMPLES
@given(cases())
def test_rule_1_a_step_skipped_as_too_young_or_superseded_is_never_sent_later(case: Case) -> None:
    trace = simulate(case)
    passed_over: set[str] = set()
    for entry in trace:
        step = entry.decision.step
        assert step is None or step.id not in passed_over or step.id in entry.state.steps_done  # a repeat
        passed_over |= {step_id for step_id, reason in entry.decision.skipped if reason != "below_min_balance"}


# --- rule 2: min_touches before a final step; touches spaced by min_gap_days ---------------------------------


@EXAMPLES
@given(cases())
def test_rule_2_a_final_step_goes_out_only_after_min_touches_touches(case: Case) -> None:
    for entry in touches(simulate(case)):
        assert entry.decision.step is not None
        if entry.decision.step.final:
            assert entry.state.touches >= case.policy.min_touches


@EXAMPLES
@given(cases())
def test_rule_2_touches_on_an_invoice_are_at_least_min_gap_days_apart_and_never_two_a_day(case: Case) -> None:
    days = [entry.day for entry in touches(simulate(case))]
    gap = max(1, case.policy.min_gap_days)
    assert all((later - earlier).days >= gap for earlier, later in pairwise(days))


# --- rule 3: automated first, personal later ---------------------------------------------------------------


@EXAMPLES
@given(cases())
def test_rule_3_no_call_letter_or_agency_before_an_automated_touch(case: Case) -> None:
    automated_yet = False
    for entry in touches(simulate(case)):
        assert entry.decision.step is not None
        channel = entry.decision.step.channel
        assert channel in AUTOMATED_CHANNELS or automated_yet
        automated_yet = automated_yet or channel in AUTOMATED_CHANNELS


# --- rule 5: never remind what is paid, paused or pending ---------------------------------------------------


def held(case: Case, state: InvoiceState, day: date) -> bool:
    customer, policy = case.customer, case.policy
    grace = timedelta(days=policy.promise_grace_days)
    return (
        state.status == "paid"
        or state.balance_minor <= int(policy.tolerance * (1 if state.currency == "JPY" else 100))
        or state.dispute_id is not None
        or state.payment_in_progress is not None
        or (state.promise_date is not None and day <= state.promise_date + grace)
        or any(until is not None and day <= until for until in (state.hold_until, customer.hold_until))
        or customer.do_not_contact
        or customer.auto_pay
        or (customer.origin == "invited" and customer.onboarding_status != "active")
        or (case.require_verified and not (customer.email_verified and customer.onboarding_status == "active"))
        or (not email_usable(customer) and not customer.has_phone)
    )


@EXAMPLES
@given(cases())
def test_rule_5_no_touch_while_anything_holds_the_invoice(case: Case) -> None:
    for entry in touches(simulate(case)):
        assert not held(case, entry.state, entry.day)


@EXAMPLES
@given(cases(reachable=True), st.integers(0, 60), st.integers(0, 10))
def test_rule_5_a_promise_past_its_grace_is_flagged_broken_and_dunning_resumes(
    case: Case, promised_on: int, days: int
) -> None:
    case = replace(case, events=((promised_on, "promise", days),), closed_days=frozenset())
    trace = simulate(case)
    promise_date = case.invoice.issue_date + timedelta(days=promised_on + days)
    broken_on = promise_date + timedelta(days=case.policy.promise_grace_days + 1)
    flagged = [entry.day for entry in trace if entry.decision.broken_promise]
    kept = [entry for entry in trace if entry.state.promise_date is not None and entry.day < broken_on]
    assert all(entry.decision.hold_reason in {"promised", "paid", "below_tolerance"} for entry in kept)
    if trace[-1].day >= broken_on and not held(case, replace(case.invoice, promise_date=None), broken_on):
        assert flagged == [broken_on]  # once: the run clears the promise when it creates the call task


# --- rule 6: touches only in the window; a step outside it waits for the next send day ------------------------


@EXAMPLES
@given(cases())
def test_rule_6_touches_go_out_only_on_open_send_days(case: Case) -> None:
    for entry in touches(simulate(case)):
        assert is_send_day(case.policy.send_window, entry.day, case.customer.country)
        assert not entry.closed


@EXAMPLES
@given(cases())
def test_rule_6_a_step_waiting_outside_the_window_goes_on_the_next_send_day_unless_something_changed(
    case: Case,
) -> None:
    trace = simulate(case)
    by_day = {entry.day: entry for entry in trace}
    for entry in trace:
        if entry.decision.hold_reason != "outside_window":
            continue
        following = next_send_day(case.policy.send_window, entry.day + timedelta(days=1), case.customer.country)
        if following not in by_day:
            continue
        between = [by_day[entry.day + timedelta(days=n)] for n in range(1, (following - entry.day).days + 1)]
        if any(later.event or later.closed for later in between):
            continue
        assert by_day[following].decision.step is not None


# --- exactly once: re-planning a day; the next action date never skips a due touch ------------------------------


@EXAMPLES
@given(cases())
def test_planning_a_day_again_after_applying_its_touch_sends_nothing_more(case: Case) -> None:
    for entry in simulate(case):
        assert entry.again.step is None
        if entry.decision.step is not None:
            assert entry.again.next_action_date == entry.decision.next_action_date


@EXAMPLES
@given(cases())
def test_no_touch_falls_before_the_next_action_date_while_nothing_else_changes(case: Case) -> None:
    # The run reads only invoices whose next action date has come: a touch due earlier would be lost.
    wake: date | None = case.invoice.issue_date
    for entry in simulate(case):
        if entry.event:
            wake = entry.day  # whatever changed the invoice re-plans it
        if entry.decision.step is not None:
            assert wake is not None and entry.day >= wake
        if wake is not None and entry.day >= wake:
            wake = entry.decision.next_action_date


# --- rule 4: one touch per customer and channel, every due invoice listed once --------------------------------


@st.composite
def customer_books(draw: st.DrawFn) -> tuple[Policy, CustomerState, list[InvoiceState]]:
    count = draw(st.integers(1, 6))
    return draw(policies), draw(customers()), [draw(invoices(f"inv-{n}")) for n in range(count)]


@EXAMPLES
@given(customer_books(), st.dates(date(2026, 1, 1), date(2027, 3, 31)), st.randoms(use_true_random=False))
def test_rule_4_one_touch_per_channel_listing_every_invoice_due_once_in_a_stable_order(
    book: tuple[Policy, CustomerState, list[InvoiceState]], start: date, shuffler: object
) -> None:
    policy, customer, book_invoices = book
    states = {state.invoice_id: state for state in book_invoices}
    for day in (start + timedelta(days=n) for n in range(0, 90, 3)):
        plan = plan_customer(customer, list(states.values()), lambda _: (policy, False), day)
        channels = [touch.channel for touch in plan.touches]
        assert len(channels) == len(set(channels))
        due = {decision.invoice_id: decision for decision in plan.decisions if decision.step is not None}
        listed = Counter(item.invoice_id for touch in plan.touches for item in touch.items)
        assert listed == Counter(list(due))
        for touch in plan.touches:
            keys = [(states[i].currency, states[i].due_date, i) for i in touch.invoice_ids]
            assert keys == sorted(keys)
            for item in touch.items:
                step = due[item.invoice_id].step
                assert step is not None and item.step_id == step.id
                assert route(step.channel, customer)[0] == touch.channel
        reordered = list(states.values())
        shuffler.shuffle(reordered)  # type: ignore[attr-defined]
        assert plan_customer(customer, reordered, lambda _: (policy, False), day).touches == plan.touches
        for decision in due.values():
            assert decision.step is not None
            states[decision.invoice_id] = touched(states[decision.invoice_id], decision.step, day)


@EXAMPLES
@given(customer_books(), st.dates(date(2026, 1, 1), date(2027, 3, 31)))
def test_rule_4_a_message_goes_only_by_a_channel_the_customer_has_and_names_the_one_it_replaces(
    book: tuple[Policy, CustomerState, list[InvoiceState]], day: date
) -> None:
    policy, customer, book_invoices = book
    plan = plan_customer(customer, book_invoices, lambda _: (policy, False), day)
    asked = {d.invoice_id: d.step.channel for d in plan.decisions if d.step is not None}
    for touch in plan.touches:
        assert touch.channel != "email" or email_usable(customer)
        assert touch.channel != "sms" or customer.has_phone
        channels = {asked[invoice_id] for invoice_id in touch.invoice_ids}
        if touch.fallback_from is None:
            assert channels == {touch.channel}
        else:
            assert touch.fallback_from in channels and touch.fallback_from != touch.channel
