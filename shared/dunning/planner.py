"""The dunning planner: for one invoice on one day, the one touch due or the reason there is none, and the
next day the invoice needs planning again (PRODUCT.md 1.3, the rules that hold whatever a policy says).

Pure: state, policy and the customer's local date in, a Decision out; no clock, no I/O. Stateless too: what
was sent is read from the invoice (`steps_done`, `touches`, `last_touch_on`), so planning the same day twice,
or after a pause, gives the same answer, and a step passed over is never sent late.

How a day is decided:
- A step's date is its anchor (issue or due date) plus its offset. Steps are taken in date order (policy
  order on the same day); the furthest step sent is the invoice's frontier, and unsent steps before it are
  passed over for good.
- Holds come first (rule 5). A hold that something else lifts (dispute, do-not-contact, ...) is re-checked
  weekly, so an invoice is never forgotten when whatever lifted the hold did not re-plan it.
- Rule 1: a step dated before issue date + first_touch_min_age_days is skipped ("too_young"), never sent
  late as a backlog.
- Only the latest step due is sent; the earlier unsent ones are "superseded", except those rule 2 needs.
- Rule 2: a final step needs `min_touches` touches first. While fewer are done, or fewer would be done by the
  first final step counting the steps still ahead of it, the earliest of the due steps still needed goes
  first (so a late import sends its most recent stages, not a pre-due reminder); with none left, the latest
  automated step is repeated. Touches are at least `min_gap_days` apart (at least a day: one touch per
  invoice per day).
- Rule 3: no call, letter or agency touch before an automated one; a personal step waits for an automated
  step sent in its place.
- A step whose `min_balance` is above the balance is skipped ("below_min_balance").
- Rule 6: a touch goes out only on a send day of the window; a step falling on another day waits for the
  next send day, and whatever cleared or superseded it by then wins. Every next action date is a send day.
- Rule 4 (one message per customer and channel) is `plan_customer`; rule 8 (bounces) is `fallback_touch`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache

from shared.dunning.model import (
    AUTOMATED_CHANNELS,
    CHANNELS,
    PERSONAL_CHANNELS,
    Channel,
    CustomerPlan,
    CustomerState,
    Decision,
    InvoiceState,
    PlannedItem,
    PlannedTouch,
    Policy,
    Step,
)
from shared.dunning.window import CUSTOMER_COUNTRY, is_send_day, next_send_day
from shared.errors import ValidationError
from shared.money import currency_exponent, to_minor

WEEKLY_RECHECK_DAYS = 7
_WEEK = timedelta(days=WEEKLY_RECHECK_DAYS)
_DAY = timedelta(days=1)


# --- a policy, compiled once ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """A step of the policy with what the planner asks of it, precomputed."""

    index: int  # position in the policy file: breaks ties between steps on the same day
    step: Step
    on_due_date: bool
    offset: int
    final: bool
    automated: bool
    personal: bool


@dataclass(eq=False)
class _Compiled:
    policy: Policy
    rows: tuple[_Row, ...]
    one_anchor: bool  # then date order is the same for every invoice, and these hold for it:
    on_due_date: bool
    offsets: tuple[int, ...]
    position_of: dict[str, int]
    any_min_balance: bool
    automated_ids: frozenset[str]
    min_age: int
    gap: int
    # Memos of pure functions of (currency) and (day, country): a run asks the same few thousand times.
    tolerance_minor: dict[str, int] = field(default_factory=dict)
    min_balance_minor: dict[tuple[int, str], int] = field(default_factory=dict)
    send_days: dict[tuple[date, str | None], bool] = field(default_factory=dict)
    next_days: dict[tuple[date, str | None], date] = field(default_factory=dict)

    def holiday_country(self, customer: CustomerState) -> str | None:
        return customer.country if self.policy.send_window.holidays == CUSTOMER_COUNTRY else None

    def is_send_day(self, day: date, country: str | None) -> bool:
        key = (day, country)
        known = self.send_days.get(key)
        if known is None:
            known = self.send_days[key] = is_send_day(self.policy.send_window, day, country)
        return known

    def send_day_from(self, day: date, country: str | None) -> date:
        key = (day, country)
        known = self.next_days.get(key)
        if known is None:
            known = self.next_days[key] = next_send_day(self.policy.send_window, day, country)
        return known

    def tolerance(self, currency: str) -> int:
        known = self.tolerance_minor.get(currency)
        if known is None:
            known = self.tolerance_minor[currency] = _minor(self.policy.tolerance, currency, ROUND_FLOOR)
        return known

    def min_balance(self, row: _Row, currency: str) -> int:
        """The step's minimum balance in minor units (0 when it has none)."""
        if row.step.min_balance is None:
            return 0
        key = (row.index, currency)
        known = self.min_balance_minor.get(key)
        if known is None:
            known = self.min_balance_minor[key] = _minor(row.step.min_balance, currency, ROUND_CEILING)
        return known


def _minor(amount: Decimal, currency: str, rounding: str) -> int:
    """A policy amount in minor units; more decimals than the currency has are rounded towards chasing
    less (a 0.5 JPY tolerance covers 0 JPY, a 10.5 JPY minimum needs 11)."""
    try:
        return to_minor(amount, currency)
    except ValidationError:
        scaled = amount.scaleb(currency_exponent(currency))  # an unknown currency raises here: bad data
        return int(scaled.to_integral_value(rounding=rounding))


@lru_cache(maxsize=256)
def _compile(policy: Policy) -> _Compiled:
    rows = tuple(
        _Row(
            index=index,
            step=step,
            on_due_date=step.anchor == "due_date",
            offset=step.offset_days,
            final=step.final,
            automated=step.channel in AUTOMATED_CHANNELS,
            personal=step.channel in PERSONAL_CHANNELS,
        )
        for index, step in enumerate(policy.steps)
    )
    ordered = tuple(sorted(rows, key=lambda row: (row.offset, row.index)))
    return _Compiled(
        policy=policy,
        rows=ordered,
        one_anchor=len({row.on_due_date for row in rows}) <= 1,
        on_due_date=bool(rows) and rows[0].on_due_date,
        offsets=tuple(row.offset for row in ordered),
        position_of={row.step.id: pos for pos, row in enumerate(ordered)},
        any_min_balance=any(row.step.min_balance is not None for row in rows),
        automated_ids=frozenset(row.step.id for row in rows if row.automated),
        min_age=policy.first_touch_min_age_days,
        gap=max(1, policy.min_gap_days),
    )


# Hashing a Policy walks all its steps; a run plans a million invoices with a handful of policy objects, so
# they are looked up by identity first (the entry keeps the object alive, so its id cannot be reused).
_BY_IDENTITY: dict[int, tuple[Policy, _Compiled]] = {}


def _compiled(policy: Policy) -> _Compiled:
    entry = _BY_IDENTITY.get(id(policy))
    if entry is not None and entry[0] is policy:
        return entry[1]
    compiled = _compile(policy)
    if len(_BY_IDENTITY) >= 256:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(policy)] = (policy, compiled)
    return compiled


# --- one invoice ------------------------------------------------------------------------------------------


def email_usable(customer: CustomerState) -> bool:
    """An AP address that passed the offline checks or was verified, and has not bounced."""
    return (customer.ap_email_ok or customer.email_verified) and not customer.email_bounced


def plan_invoice(
    invoice: InvoiceState,
    customer: CustomerState,
    policy: Policy | None,
    as_of: date,
    *,
    require_verified_master_data: bool = False,
    window_closed_today: bool = False,
) -> Decision:
    """The touch due today for this invoice (at most one) or why there is none, and its next action date.

    `as_of` is the customer's local date; `policy` None means the invoice is excluded from dunning."""
    if invoice.status == "paid" or invoice.balance_minor <= 0:
        return Decision(invoice.invoice_id, None if policy is None else policy.name, hold_reason="paid")
    if policy is None:
        return Decision(invoice.invoice_id, None, hold_reason="excluded", next_action_date=as_of + _WEEK)
    compiled = _compiled(policy)
    country = compiled.holiday_country(customer)
    reason, recheck, broken = _hold(compiled, invoice, customer, as_of, require_verified_master_data)
    if reason is None:
        return _plan_steps(compiled, invoice, as_of, country, window_closed_today, broken)
    next_day = None if recheck is None else compiled.send_day_from(recheck, country)
    return Decision(
        invoice.invoice_id, policy.name, hold_reason=reason, next_action_date=next_day, broken_promise=broken
    )


_Hold = tuple[str | None, date | None, bool]
_NO_HOLD: _Hold = (None, None, False)
_BROKEN_PROMISE: _Hold = (None, None, True)


def _hold(
    compiled: _Compiled, invoice: InvoiceState, customer: CustomerState, as_of: date, require_verified: bool
) -> _Hold:
    """(hold reason or None, day to look again, whether a promise is broken), holds in order of precedence.
    A broken promise is no hold: dunning resumes the same day, and the run creates a call task."""
    if invoice.balance_minor <= compiled.tolerance(invoice.currency):
        return "below_tolerance", None, False
    if invoice.excluded:
        return "excluded", as_of + _WEEK, False
    if customer.do_not_contact:
        return "do_not_contact", as_of + _WEEK, False
    if customer.auto_pay:
        return "auto_pay", as_of + _WEEK, False
    if invoice.dispute_id:
        return "disputed", as_of + _WEEK, False
    if invoice.payment_in_progress:
        return "payment_in_progress", as_of + _DAY, False
    hold_until = _later(invoice.hold_until, customer.hold_until)
    if hold_until is not None and hold_until >= as_of:
        return "on_hold", hold_until + _DAY, False
    broken = False
    if invoice.promise_date is not None:
        kept_until = invoice.promise_date + timedelta(days=compiled.policy.promise_grace_days)
        if as_of <= kept_until:
            return "promised", kept_until + _DAY, False
        broken = True
    if customer.origin == "invited" and customer.onboarding_status != "active":
        return "onboarding", as_of + _WEEK, broken
    if require_verified and not (customer.email_verified and customer.onboarding_status == "active"):
        return "unverified_master_data", as_of + _WEEK, broken
    if not email_usable(customer) and not customer.has_phone:
        return "no_contact", as_of + _WEEK, broken
    return _BROKEN_PROMISE if broken else _NO_HOLD


def _later(first: date | None, second: date | None) -> date | None:
    if first is None or second is None:
        return first or second
    return max(first, second)


def _in_date_order(compiled: _Compiled, issue: int, due: int) -> tuple[tuple[_Row, ...], list[int]]:
    """The policy's steps in this invoice's date order, and their days (ordinals)."""
    if compiled.one_anchor:
        base = due if compiled.on_due_date else issue
        return compiled.rows, [base + offset for offset in compiled.offsets]
    rows = tuple(sorted(compiled.rows, key=lambda row: ((due if row.on_due_date else issue) + row.offset, row.index)))
    return rows, [(due if row.on_due_date else issue) + row.offset for row in rows]


def _frontier(compiled: _Compiled, rows: tuple[_Row, ...], done: frozenset[str]) -> int:
    """Position of the furthest step sent, -1 before any."""
    if not done:
        return -1
    if compiled.one_anchor:
        position_of = compiled.position_of
        return max((position_of[step_id] for step_id in done if step_id in position_of), default=-1)
    return max((pos for pos, row in enumerate(rows) if row.step.id in done), default=-1)


@dataclass(slots=True)
class _Calendar:
    """One invoice's steps as of one day, by position in date order: what is passed over, due, ahead."""

    rows: tuple[_Row, ...]
    days: list[int]
    frontier: int  # position of the furthest step sent, -1 before any
    eligible: list[int]  # old enough and above their minimum balance, whether sent or not
    due: list[int]  # unsent, beyond the frontier, dated today or earlier
    ahead: list[int]  # unsent, beyond the frontier, dated after today
    skipped: list[tuple[str, str]]


def _calendar(compiled: _Compiled, invoice: InvoiceState, today: int) -> _Calendar:
    rows, days = _in_date_order(compiled, invoice.issue_date.toordinal(), invoice.due_date.toordinal())
    frontier = _frontier(compiled, rows, invoice.steps_done)
    # Days ascend with position, so the too-young steps and the ones dated today or earlier are prefixes.
    old_enough = bisect_left(days, invoice.issue_date.toordinal() + compiled.min_age)
    dated = bisect_right(days, today)
    beyond = frontier + 1
    skipped = [(rows[pos].step.id, "too_young") for pos in range(beyond, min(old_enough, dated))]
    if compiled.any_min_balance:
        return _calendar_with_minimums(compiled, invoice, rows, days, frontier, old_enough, dated, skipped)
    start = max(old_enough, beyond)
    return _Calendar(
        rows,
        days,
        frontier,
        eligible=list(range(old_enough, len(rows))),
        due=list(range(start, dated)),
        ahead=list(range(max(start, dated), len(rows))),
        skipped=skipped,
    )


def _calendar_with_minimums(
    compiled: _Compiled,
    invoice: InvoiceState,
    rows: tuple[_Row, ...],
    days: list[int],
    frontier: int,
    old_enough: int,
    dated: int,
    skipped: list[tuple[str, str]],
) -> _Calendar:
    calendar = _Calendar(rows, days, frontier, [], [], [], skipped)
    for pos in range(old_enough, len(rows)):
        row = rows[pos]
        if invoice.balance_minor < compiled.min_balance(row, invoice.currency):
            if pos < dated and pos > frontier:
                skipped.append((row.step.id, "below_min_balance"))
            continue
        calendar.eligible.append(pos)
        if pos > frontier:
            (calendar.due if pos < dated else calendar.ahead).append(pos)
    return calendar


def _choose(calendar: _Calendar, invoice: InvoiceState, compiled: _Compiled, today: int) -> int | None:
    """Today's step (rules 2 and 3) as a position, or None when nothing due may be sent yet."""
    if not calendar.due:
        return None
    needed = compiled.policy.min_touches - invoice.touches
    chosen: int | None = calendar.due[-1]
    if needed > 0:
        chosen = _earlier_for_rule_2(calendar, invoice.steps_done, needed, today)
    if chosen is not None and calendar.rows[chosen].personal and not _had_automated_touch(invoice, compiled):
        chosen = _automated_instead(calendar, invoice.steps_done, needed, today)
    return chosen


def _earlier_for_rule_2(calendar: _Calendar, done: frozenset[str], needed: int, today: int) -> int | None:
    """With `needed` touches still owed before a final step: the earliest due step still needed (counting
    the non-final steps ahead of the first final one), or a repeat of the latest automated step."""
    rows = calendar.rows
    latest = calendar.due[-1]
    finals = [pos for pos in calendar.due + calendar.ahead if rows[pos].final]
    if not finals:
        return latest
    coming = sum(1 for pos in calendar.ahead if pos < finals[0] and not rows[pos].final)
    keep = max(1, needed - coming)
    if keep == 1 and not rows[latest].final:
        return latest
    not_final = [pos for pos in calendar.due if not rows[pos].final]
    if not_final:
        return not_final[max(0, len(not_final) - keep)]
    return _repeatable(calendar, done, needed, today)


def _had_automated_touch(invoice: InvoiceState, compiled: _Compiled) -> bool:
    return invoice.touches > 0 and not compiled.automated_ids.isdisjoint(invoice.steps_done)


def _allowed_automated(row: _Row, needed: int) -> bool:
    return row.automated and (needed <= 0 or not row.final)


def _automated_instead(calendar: _Calendar, done: frozenset[str], needed: int, today: int) -> int | None:
    """Rule 3: the earliest automated step due in place of a personal one, else a repeated one."""
    for pos in calendar.due:
        if _allowed_automated(calendar.rows[pos], needed):
            return pos
    return _repeatable(calendar, done, needed, today)


def _repeatable(calendar: _Calendar, done: frozenset[str], needed: int, today: int) -> int | None:
    """The latest automated step (non-final while touches are owed) dated today or earlier: one already sent
    if there is one, so a stage passed over is not sent late."""
    fallback: int | None = None
    for pos in reversed(calendar.eligible):
        row = calendar.rows[pos]
        if calendar.days[pos] <= today and _allowed_automated(row, needed):
            if row.step.id in done:
                return pos
            fallback = pos if fallback is None else fallback
    return fallback


def _plan_steps(
    compiled: _Compiled,
    invoice: InvoiceState,
    as_of: date,
    country: str | None,
    window_closed_today: bool,
    broken_promise: bool,
) -> Decision:
    today = as_of.toordinal()
    calendar = _calendar(compiled, invoice, today)
    chosen = _choose(calendar, invoice, compiled, today)
    name = compiled.policy.name
    skipped = tuple(calendar.skipped)
    if chosen is None:
        return Decision(
            invoice.invoice_id,
            name,
            hold_reason=_why_nothing_due(calendar, invoice, compiled, today),
            skipped=skipped,
            next_action_date=_next_from(calendar, calendar.ahead, compiled, invoice, country, None),
            broken_promise=broken_promise,
        )
    last = invoice.last_touch_on
    if last is not None and today < last.toordinal() + compiled.gap:
        gap_ends = compiled.send_day_from(last + timedelta(days=compiled.gap), country)
        return Decision(
            invoice.invoice_id,
            name,
            hold_reason="gap",
            skipped=skipped,
            next_action_date=gap_ends,
            broken_promise=broken_promise,
        )
    if window_closed_today or not compiled.is_send_day(as_of, country):
        return Decision(
            invoice.invoice_id,
            name,
            hold_reason="outside_window",
            skipped=skipped,
            next_action_date=compiled.send_day_from(as_of + _DAY, country),
            broken_promise=broken_promise,
        )
    rows = calendar.rows
    superseded = tuple((rows[pos].step.id, "superseded") for pos in calendar.due if pos < chosen)
    frontier = max(calendar.frontier, chosen)
    remaining = [pos for pos in calendar.due + calendar.ahead if pos > frontier]
    return Decision(
        invoice.invoice_id,
        name,
        step=rows[chosen].step,
        skipped=skipped + superseded,
        next_action_date=_next_from(calendar, remaining, compiled, invoice, country, as_of),
        broken_promise=broken_promise,
    )


def _why_nothing_due(calendar: _Calendar, invoice: InvoiceState, compiled: _Compiled, today: int) -> str:
    if today < invoice.issue_date.toordinal() + compiled.min_age:
        return "too_young"
    if not calendar.due and not calendar.ahead:
        return "done"
    return "not_due"


def _next_from(
    calendar: _Calendar,
    remaining: list[int],
    compiled: _Compiled,
    invoice: InvoiceState,
    country: str | None,
    touched: date | None,
) -> date | None:
    """The first send day a touch could be due: the earliest remaining step, not before the gap after the
    last touch (today's, when `touched`) ends; None when no step remains."""
    if not remaining:
        return None
    earliest = calendar.days[remaining[0]]  # positions are in date order
    last = touched or invoice.last_touch_on
    if last is not None:
        earliest = max(earliest, last.toordinal() + compiled.gap)
    return compiled.send_day_from(date.fromordinal(earliest), country)


# --- one customer (rule 4) and bounces (rule 8) ---------------------------------------------------------------


def route(channel: Channel, customer: CustomerState) -> tuple[Channel, Channel | None]:
    """The channel a step reaches this customer on, and the one it was meant for when that differs: email
    without a usable address goes by SMS, else becomes a call; SMS without a phone goes by email, else a call."""
    if channel == "email" and not email_usable(customer):
        return ("sms" if customer.has_phone else "call"), "email"
    if channel == "sms" and not customer.has_phone:
        return ("email" if email_usable(customer) else "call"), "sms"
    return channel, None


def plan_customer(
    customer: CustomerState,
    invoices: Sequence[InvoiceState],
    choose: Callable[[InvoiceState], tuple[Policy | None, bool]],
    as_of: date,
    *,
    window_closed_today: bool = False,
) -> CustomerPlan:
    """Every invoice's decision and, per channel, the one touch listing every invoice due a step on it."""
    decisions: list[Decision] = []
    lines: dict[Channel, list[tuple[InvoiceState, Step, Channel | None]]] = {}
    for invoice in invoices:
        policy, require_verified = choose(invoice)
        decision = plan_invoice(
            invoice,
            customer,
            policy,
            as_of,
            require_verified_master_data=require_verified,
            window_closed_today=window_closed_today,
        )
        decisions.append(decision)
        if decision.step is not None:
            channel, meant_for = route(decision.step.channel, customer)
            lines.setdefault(channel, []).append((invoice, decision.step, meant_for))
    touches = tuple(
        _touch(customer.customer_id, channel, lines[channel], as_of) for channel in CHANNELS if channel in lines
    )
    return CustomerPlan(customer.customer_id, tuple(decisions), touches)


def _touch(
    customer_id: str, channel: Channel, lines: list[tuple[InvoiceState, Step, Channel | None]], as_of: date
) -> PlannedTouch:
    ordered = sorted(lines, key=_order)
    items = tuple(
        PlannedItem(invoice.invoice_id, invoice.currency, invoice.balance_minor, step.id, step.template, step.final)
        for invoice, step, _ in ordered
    )
    _, stage_step, _ = max(lines, key=lambda line: _advance(line, as_of))
    meant_for = next((meant for _, _, meant in ordered if meant is not None), None)
    return PlannedTouch(customer_id, channel, items, stage_step.template, fallback_from=meant_for)


def _order(line: tuple[InvoiceState, Step, Channel | None]) -> tuple[str, date, str]:
    invoice = line[0]
    return invoice.currency, invoice.due_date, invoice.invoice_id


def _advance(line: tuple[InvoiceState, Step, Channel | None], as_of: date) -> tuple[bool, int, str]:
    """How far along a line is: a final step first, then the most days past due (then the id, for a stable
    choice)."""
    invoice, step, _ = line
    return step.final, (as_of - invoice.due_date).days, invoice.invoice_id


def fallback_touch(touch: PlannedTouch, customer: CustomerState) -> PlannedTouch | None:
    """After a bounce (rule 8): an email goes by SMS when the customer has a phone, else becomes a call task;
    an SMS becomes a call task; a call, letter or agency touch has no fallback."""
    meant_for = touch.fallback_from or touch.channel
    if touch.channel == "email":
        channel: Channel = "sms" if customer.has_phone else "call"
    elif touch.channel == "sms":
        channel = "call"
    else:
        return None
    return PlannedTouch(touch.customer_id, channel, touch.items, touch.template, fallback_from=meant_for)
