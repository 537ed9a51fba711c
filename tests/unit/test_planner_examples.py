"""Worked examples of the dunning planner on the standard policy of INTERFACES.md: what an AR team would
expect to see for a net 30 invoice, a net 10 invoice and a 60-day-old invoice imported late, and why an
invoice is left alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared.dunning.model import (
    CustomerState,
    Decision,
    InvoiceState,
    PlannedItem,
    PlannedTouch,
    Policy,
    SendWindow,
    Step,
)
from shared.dunning.planner import fallback_touch, plan_customer, plan_invoice


def due_step(step_id: str, offset: int, channel: str, template: str | None = None, final: bool = False) -> Step:
    return Step(step_id, "due_date", offset, channel, template, final)  # type: ignore[arg-type]


STANDARD = Policy(
    name="standard",
    first_touch_min_age_days=14,
    min_touches=4,
    min_gap_days=3,
    tolerance=Decimal("1.00"),
    send_window=SendWindow(holidays="US"),
    steps=(
        due_step("pre_due", -5, "email", "pre_due"),
        due_step("due", 0, "email", "due_today"),
        due_step("late_1", 3, "email", "past_due"),
        due_step("late_sms", 10, "sms", "past_due_sms"),
        due_step("call_1", 15, "call"),
        due_step("firm", 21, "email", "past_due_firm"),
        due_step("final", 30, "email", "final_notice", final=True),
        due_step("agency", 45, "agency", final=True),
    ),
)
ACME = CustomerState("acme", country="US", ap_email_ok=True, has_phone=True, onboarding_status="active")
ISSUED = date(2026, 3, 2)  # a Monday
MONDAY = date(2026, 4, 6)


def invoice(invoice_id: str = "INV-1", *, issued: date = ISSUED, terms: int = 30, **changes: Any) -> InvoiceState:
    state = InvoiceState(invoice_id, "acme", issued, issued + timedelta(days=terms), "USD", 120_000, 120_000)
    return replace(state, **changes)


def sent(state: InvoiceState, decision: Decision, day: date) -> InvoiceState:
    """The invoice after the run sent the decision's touch on `day`."""
    assert decision.step is not None
    return replace(
        state,
        touches=state.touches + 1,
        steps_done=state.steps_done | {decision.step.id},
        last_touch_on=day,
    )


def schedule(
    state: InvoiceState, start: date, days: int, customer: CustomerState = ACME, policy: Policy = STANDARD
) -> list[tuple[str, str]]:
    """Every touch of `days` days of daily runs from `start`, as (ISO date with weekday, step)."""
    touches = []
    for day in (start + timedelta(days=n) for n in range(days)):
        decision = plan_invoice(state, customer, policy, day)
        if decision.step is not None:
            touches.append((f"{day:%a} {day.isoformat()}", decision.step.id))
            state = sent(state, decision, day)
    return touches


def test_a_net_30_invoice_gets_every_stage_on_its_day_or_on_the_next_send_day() -> None:
    # Due Wednesday 1 April; the steps falling on a Saturday wait for Monday.
    assert schedule(invoice(), ISSUED, 90) == [
        ("Fri 2026-03-27", "pre_due"),
        ("Wed 2026-04-01", "due"),
        ("Mon 2026-04-06", "late_1"),  # due + 3 is a Saturday
        ("Mon 2026-04-13", "late_sms"),  # due + 10 is a Saturday
        ("Thu 2026-04-16", "call_1"),
        ("Wed 2026-04-22", "firm"),
        ("Fri 2026-05-01", "final"),  # six touches before it: more than the four required
        ("Mon 2026-05-18", "agency"),  # due + 45 is a Saturday
    ]


def test_a_net_10_invoice_skips_the_stages_before_day_14_and_never_sends_them_late() -> None:
    # Due Thursday 12 March: pre_due, due and late_1 all fall before the invoice is 14 days old (16 March).
    state = invoice(terms=10)
    assert schedule(state, ISSUED, 60) == [
        ("Mon 2026-03-23", "late_sms"),  # due + 10 is a Sunday
        ("Fri 2026-03-27", "call_1"),
        ("Thu 2026-04-02", "firm"),
        ("Mon 2026-04-13", "firm"),  # only three touches by the final step's day: the latest email again
        ("Thu 2026-04-16", "final"),  # three days after the fourth touch
        ("Mon 2026-04-27", "agency"),
    ]
    young = plan_invoice(state, ACME, STANDARD, date(2026, 3, 16))
    assert young.hold_reason == "not_due"
    assert young.skipped == (("pre_due", "too_young"), ("due", "too_young"), ("late_1", "too_young"))
    assert young.next_action_date == date(2026, 3, 23)


def test_an_invoice_younger_than_14_days_is_too_young_and_is_looked_at_again_on_its_first_step() -> None:
    decision = plan_invoice(invoice(terms=10), ACME, STANDARD, date(2026, 3, 12))
    assert decision.step is None
    assert decision.hold_reason == "too_young"
    assert decision.next_action_date == date(2026, 3, 23)


def test_a_60_day_old_invoice_imported_late_starts_at_the_most_recent_stages_it_needs() -> None:
    # Issued 5 January, due 4 February, imported on Friday 6 March (due + 30: the final step's day).
    late = invoice(issued=date(2026, 1, 5))
    first = plan_invoice(late, ACME, STANDARD, date(2026, 3, 6))
    assert first.step is not None and first.step.id == "late_1"
    assert first.skipped == (("pre_due", "superseded"), ("due", "superseded"))
    assert schedule(late, date(2026, 3, 6), 30) == [
        ("Fri 2026-03-06", "late_1"),
        ("Mon 2026-03-09", "late_sms"),
        ("Thu 2026-03-12", "call_1"),
        ("Mon 2026-03-16", "firm"),
        ("Thu 2026-03-19", "final"),  # after four touches, each three days apart
        ("Mon 2026-03-23", "agency"),
    ]


def test_after_the_final_step_only_the_latest_stage_is_sent_and_the_skipped_ones_are_named() -> None:
    # Four touches done, then a two-week pause: on its return only the latest due step goes.
    state = invoice(
        touches=4, steps_done=frozenset({"pre_due", "due", "late_1", "late_sms"}), last_touch_on=date(2026, 4, 13)
    )
    decision = plan_invoice(state, ACME, STANDARD, date(2026, 4, 27))
    assert decision.step is not None and decision.step.id == "firm"
    assert decision.skipped == (("call_1", "superseded"),)
    assert decision.next_action_date == date(2026, 5, 1)


def test_a_step_on_a_public_holiday_goes_out_on_the_next_send_day() -> None:
    # Due Tuesday 30 June: late_1 on Friday 3 July, Independence Day observed.
    state = invoice(
        issued=date(2026, 5, 31), touches=2, steps_done=frozenset({"pre_due", "due"}), last_touch_on=date(2026, 6, 30)
    )
    holiday = plan_invoice(state, ACME, STANDARD, date(2026, 7, 3))
    assert (holiday.hold_reason, holiday.next_action_date) == ("outside_window", date(2026, 7, 6))
    monday = plan_invoice(state, ACME, STANDARD, date(2026, 7, 6))
    assert monday.step is not None and monday.step.id == "late_1"


def test_a_run_after_the_window_closed_today_leaves_the_touch_for_the_next_send_day() -> None:
    decision = plan_invoice(invoice(), ACME, STANDARD, date(2026, 3, 27), window_closed_today=True)
    assert (decision.step, decision.hold_reason, decision.next_action_date) == (
        None,
        "outside_window",
        date(2026, 3, 30),
    )


def test_planning_the_same_day_again_after_the_touch_sends_nothing_more() -> None:
    # The late import of 6 March: after late_1, late_sms is still due, but not on the same day.
    day = date(2026, 3, 6)
    late = invoice(issued=date(2026, 1, 5))
    first = plan_invoice(late, ACME, STANDARD, day)
    again = plan_invoice(sent(late, first, day), ACME, STANDARD, day)
    assert first.step is not None
    assert (again.step, again.hold_reason, again.next_action_date) == (None, "gap", date(2026, 3, 9))
    assert again.next_action_date == first.next_action_date


def test_after_a_touch_the_invoice_is_looked_at_again_on_its_next_step() -> None:
    day = date(2026, 3, 27)
    first = plan_invoice(invoice(), ACME, STANDARD, day)
    again = plan_invoice(sent(invoice(), first, day), ACME, STANDARD, day)
    assert (again.step, again.hold_reason, again.next_action_date) == (None, "not_due", date(2026, 4, 1))
    assert again.next_action_date == first.next_action_date


def test_a_touch_two_days_ago_holds_the_next_step_until_the_gap_has_passed() -> None:
    state = invoice(touches=1, steps_done=frozenset({"pre_due"}), last_touch_on=date(2026, 3, 30))
    decision = plan_invoice(state, ACME, STANDARD, date(2026, 4, 1))
    assert (decision.hold_reason, decision.next_action_date) == ("gap", date(2026, 4, 2))


# --- rule 3: automated first ------------------------------------------------------------------------------


REMINDER_THEN_CALL = replace(
    STANDARD,
    name="reminder_then_call",
    steps=(
        due_step("reminder", -3, "email", "pre_due"),
        due_step("call", 0, "call"),
        due_step("nudge", 20, "email", "past_due"),
    ),
)


def test_an_invoice_imported_after_its_call_step_gets_the_email_first_and_the_call_after_the_gap() -> None:
    # Due 1 April, imported on Monday 6 April with no touch yet: the call is the latest step due.
    assert schedule(invoice(), MONDAY, 20, policy=REMINDER_THEN_CALL) == [
        ("Mon 2026-04-06", "reminder"),
        ("Thu 2026-04-09", "call"),
        ("Tue 2026-04-21", "nudge"),
    ]


def test_a_call_step_waits_while_no_automated_step_can_go_before_it() -> None:
    calls_first = replace(
        STANDARD, name="calls_first", steps=(due_step("call", 0, "call"), due_step("nudge", 2, "email", "past_due"))
    )
    on_the_call_day = plan_invoice(invoice(), ACME, calls_first, date(2026, 4, 1))
    assert (on_the_call_day.step, on_the_call_day.hold_reason) == (None, "not_due")
    assert on_the_call_day.next_action_date == date(2026, 4, 3)
    assert schedule(invoice(), date(2026, 4, 1), 10, policy=calls_first) == [("Fri 2026-04-03", "nudge")]


# --- rule 5: what is never reminded -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "customer", "reason", "next_day"),
    [
        (invoice(status="paid", balance_minor=0), ACME, "paid", None),
        (invoice(balance_minor=0), ACME, "paid", None),
        (invoice(balance_minor=100), ACME, "below_tolerance", None),  # 1.00 USD: at the tolerance
        (invoice(excluded=True), ACME, "excluded", date(2026, 4, 13)),
        (invoice(), replace(ACME, do_not_contact=True), "do_not_contact", date(2026, 4, 13)),
        (invoice(), replace(ACME, auto_pay=True), "auto_pay", date(2026, 4, 13)),
        (invoice(dispute_id="D-1"), ACME, "disputed", date(2026, 4, 13)),
        (invoice(payment_in_progress="P-1"), ACME, "payment_in_progress", date(2026, 4, 7)),
        (invoice(hold_until=MONDAY), ACME, "on_hold", date(2026, 4, 7)),
        (invoice(), replace(ACME, hold_until=date(2026, 4, 9)), "on_hold", date(2026, 4, 10)),
        (invoice(promise_date=date(2026, 4, 3)), ACME, "promised", date(2026, 4, 7)),  # 3 days of grace
        (invoice(), replace(ACME, origin="invited", onboarding_status="validating"), "onboarding", date(2026, 4, 13)),
        (invoice(), replace(ACME, ap_email_ok=False, has_phone=False), "no_contact", date(2026, 4, 13)),
        (invoice(), replace(ACME, email_bounced=True, has_phone=False), "no_contact", date(2026, 4, 13)),
    ],
)
def test_an_invoice_on_hold_gets_no_touch_and_a_day_to_look_again(
    state: InvoiceState, customer: CustomerState, reason: str, next_day: date | None
) -> None:
    decision = plan_invoice(state, customer, STANDARD, MONDAY)
    assert (decision.step, decision.hold_reason, decision.next_action_date) == (None, reason, next_day)


def test_a_weekly_recheck_lands_on_a_send_day() -> None:
    saturday = date(2026, 4, 4)
    decision = plan_invoice(invoice(dispute_id="D-1"), ACME, STANDARD, saturday)
    assert decision.next_action_date == date(2026, 4, 13)  # Saturday + 7 is a Saturday: the Monday after


def test_an_invoice_whose_policy_is_none_is_excluded() -> None:
    decision = plan_invoice(invoice(), ACME, None, MONDAY)
    assert (decision.policy, decision.hold_reason, decision.next_action_date) == (None, "excluded", date(2026, 4, 13))


def test_one_cent_above_the_tolerance_is_still_chased() -> None:
    assert plan_invoice(invoice(balance_minor=101), ACME, STANDARD, MONDAY).step is not None


def test_the_tolerance_is_read_in_the_invoices_own_currency() -> None:
    yen = invoice(currency="JPY", amount_minor=1, balance_minor=1)  # 1 JPY: at a tolerance of 1.00
    assert plan_invoice(yen, ACME, STANDARD, MONDAY).hold_reason == "below_tolerance"
    assert plan_invoice(replace(yen, balance_minor=2), ACME, STANDARD, MONDAY).step is not None


def test_a_promise_kept_open_until_its_grace_ends_then_dunning_resumes_with_a_broken_promise() -> None:
    promised = invoice(promise_date=date(2026, 4, 3))
    assert plan_invoice(promised, ACME, STANDARD, date(2026, 4, 6)).hold_reason == "promised"
    broken = plan_invoice(promised, ACME, STANDARD, date(2026, 4, 7))
    assert broken.broken_promise
    assert broken.step is not None and broken.step.id == "late_1"


def test_an_erp_customer_with_a_usable_email_is_dunned_unless_its_segment_wants_verified_master_data() -> None:
    erp = replace(ACME, origin="erp", onboarding_status="invited", email_verified=False)
    assert plan_invoice(invoice(), erp, STANDARD, MONDAY).step is not None
    held = plan_invoice(invoice(), erp, STANDARD, MONDAY, require_verified_master_data=True)
    assert held.hold_reason == "unverified_master_data"
    verified = replace(erp, email_verified=True, onboarding_status="active")
    assert plan_invoice(invoice(), verified, STANDARD, MONDAY, require_verified_master_data=True).step is not None


def test_a_step_with_a_minimum_balance_is_skipped_for_a_smaller_balance() -> None:
    policy = replace(STANDARD, steps=(*STANDARD.steps[:2], replace(STANDARD.steps[2], min_balance=Decimal("5000"))))
    state = invoice(touches=2, steps_done=frozenset({"pre_due", "due"}), last_touch_on=date(2026, 4, 1))
    decision = plan_invoice(state, ACME, policy, MONDAY)
    assert (decision.step, decision.hold_reason, decision.next_action_date) == (None, "done", None)
    assert decision.skipped == (("late_1", "below_min_balance"),)


# --- rule 4: one message per customer and channel --------------------------------------------------------


def standard_for_all(_: InvoiceState) -> tuple[Policy | None, bool]:
    return STANDARD, False


def test_every_invoice_due_today_is_listed_in_one_email_ordered_by_currency_then_due_date() -> None:
    # On Monday 6 April: INV-B and INV-E are due late_1, INV-A (due 1 April, EUR) too, INV-C is due today.
    invoices = [
        invoice("INV-B", issued=date(2026, 3, 3), touches=2, steps_done=frozenset({"pre_due", "due"})),
        invoice("INV-A", currency="EUR", touches=2, steps_done=frozenset({"pre_due", "due"})),
        invoice("INV-C", issued=date(2026, 3, 7), touches=1, steps_done=frozenset({"pre_due"})),
        invoice("INV-D", issued=date(2026, 3, 20)),  # due 19 April: pre_due on the 14th
        invoice("INV-E", touches=2, steps_done=frozenset({"pre_due", "due"})),
    ]
    plan = plan_customer(ACME, invoices, standard_for_all, MONDAY)
    assert [decision.invoice_id for decision in plan.decisions] == ["INV-B", "INV-A", "INV-C", "INV-D", "INV-E"]
    assert len(plan.touches) == 1
    email = plan.touches[0]
    assert (email.channel, email.fallback_from) == ("email", None)
    assert email.invoice_ids == ("INV-A", "INV-E", "INV-B", "INV-C")
    assert email.steps == ("late_1", "due")
    assert email.template == "past_due"  # the most days past due sets the stage


def test_a_final_step_sets_the_stage_of_the_message_whatever_the_days_past_due() -> None:
    gentle = replace(STANDARD, name="gentle", steps=(due_step("gentle_nudge", 60, "email", "gentle"),))
    invoices = [
        invoice("OLD", issued=date(2026, 1, 1)),  # due 31 January, 90 days past due, on the gentle policy
        invoice("FINAL", touches=6, steps_done=frozenset({"firm"}), last_touch_on=date(2026, 4, 22)),  # 30 days
    ]

    def policy_of(state: InvoiceState) -> tuple[Policy | None, bool]:
        return (gentle if state.invoice_id == "OLD" else STANDARD), False

    plan = plan_customer(ACME, invoices, policy_of, date(2026, 5, 1))
    (email,) = plan.touches
    assert [(item.invoice_id, item.step_id, item.final) for item in email.items] == [
        ("OLD", "gentle_nudge", False),
        ("FINAL", "final", True),
    ]
    assert email.template == "final_notice"


def test_an_sms_step_and_an_email_step_on_the_same_day_leave_as_one_of_each() -> None:
    invoices = [
        invoice("SMS", issued=date(2026, 2, 24), touches=3, steps_done=frozenset({"late_1"})),  # due + 11
        invoice("MAIL", issued=date(2026, 3, 6), touches=1, steps_done=frozenset({"pre_due"})),  # due + 1
    ]
    plan = plan_customer(ACME, invoices, standard_for_all, MONDAY)
    assert [(touch.channel, touch.invoice_ids) for touch in plan.touches] == [("email", ("MAIL",)), ("sms", ("SMS",))]


def test_an_email_step_for_a_customer_without_a_usable_email_goes_by_sms() -> None:
    bounced = replace(ACME, email_bounced=True)
    plan = plan_customer(bounced, [invoice()], standard_for_all, date(2026, 3, 27))
    assert [(touch.channel, touch.fallback_from, touch.template) for touch in plan.touches] == [
        ("sms", "email", "pre_due")
    ]


def test_an_sms_step_for_a_customer_without_a_phone_goes_by_email() -> None:
    no_phone = replace(ACME, has_phone=False)
    state = invoice(issued=date(2026, 2, 24), touches=3, steps_done=frozenset({"late_1"}))
    plan = plan_customer(no_phone, [state], standard_for_all, MONDAY)
    assert [(touch.channel, touch.fallback_from) for touch in plan.touches] == [("email", "sms")]


def test_an_excluded_invoice_is_decided_but_never_listed() -> None:
    plan = plan_customer(ACME, [invoice()], lambda _: (None, False), date(2026, 3, 27))
    assert plan.touches == ()
    assert plan.decisions[0].hold_reason == "excluded"


# --- rule 8: bounces fall back --------------------------------------------------------------------------------


EMAIL = PlannedTouch(
    "acme", "email", (PlannedItem("INV-1", "USD", 120_000, "late_1", "past_due"),), "past_due", fallback_from=None
)


def test_a_bounced_email_goes_by_sms_and_a_failed_sms_becomes_a_call_task() -> None:
    sms = fallback_touch(EMAIL, ACME)
    assert sms is not None and (sms.channel, sms.fallback_from, sms.items) == ("sms", "email", EMAIL.items)
    call = fallback_touch(sms, ACME)
    assert call is not None and (call.channel, call.fallback_from) == ("call", "email")


def test_a_bounced_email_to_a_customer_without_a_phone_becomes_a_call_task() -> None:
    call = fallback_touch(EMAIL, replace(ACME, has_phone=False))
    assert call is not None and (call.channel, call.fallback_from) == ("call", "email")


@pytest.mark.parametrize("channel", ["call", "letter", "agency"])
def test_a_task_has_no_fallback(channel: str) -> None:
    assert fallback_touch(replace(EMAIL, channel=channel), ACME) is None  # type: ignore[arg-type]
