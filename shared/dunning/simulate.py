"""The dunning simulator: what a policy file would have sent, replayed over the stored ledger day by day,
so the AR team can change a rule and see whether the new one works better (seed 000) before it goes live.

Each invoice's state on a day is rebuilt from the ledger's own dates: it exists from its issue date, its
balance is its amount less what was applied on or before that day (payments the ledger shows arriving later
arrive later in the replay), and its touch history starts empty on its issue date and is replayed silently
before `start`, so an older invoice enters the window with the touches the policy would have given it. The
customer's facts, and the invoice's dispute, promise and hold fields, are the stored ones (their own dates
say when a promise or a hold applies). The simulator works in the customer's local days, plans each day
with the run's own planner (`plan_customer`: one message per customer per channel per day) and writes and
sends nothing.

It is pure — ledger, policy file and days in, a result out — except `load_ledger`, which reads the tables.
A day is planned for an invoice only when it can change something (the planner's next action date, or a
day money arrives): a few plans per invoice, however long the replay, so a hundred thousand invoices over a
quarter take under a minute, not hours.
"""

from __future__ import annotations

import heapq
import statistics
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache
from itertools import accumulate
from typing import Any

from shared.dunning.model import (
    CHANNELS,
    MESSAGE_CHANNELS,
    PERSONAL_CHANNELS,
    Channel,
    CustomerState,
    InvoiceState,
    Policy,
    PolicyFile,
)
from shared.dunning.planner import plan_customer
from shared.dunning.policy import Resolution, resolve_policy
from shared.errors import ValidationError
from shared.money import currency_exponent, to_minor

MAX_DAYS = 3650
PROGRESS_EVERY = 10_000

# Holds nothing in a replay lifts: the stored facts behind them stay as they are, so the invoice needs the
# planner again only when money arrives (the planner's weekly re-check is for the live run, where they change).
_STATIC_HOLDS = frozenset(
    {
        "excluded",
        "do_not_contact",
        "auto_pay",
        "disputed",
        "payment_in_progress",
        "onboarding",
        "unverified_master_data",
        "no_contact",
    }
)
_CHANNEL_ORDER = {channel: index for index, channel in enumerate(CHANNELS)}


# --- the ledger as the simulator reads it ---------------------------------------------------------------


@dataclass(frozen=True)
class SimInvoice:
    """An invoice with its history: `applied` holds every (day, minor units) of money that reduced it —
    payments, credit notes, and what the ERP showed as settled on the day it said so."""

    invoice_id: str
    customer_id: str
    issue_date: date
    due_date: date
    currency: str
    amount_minor: int
    applied: tuple[tuple[date, int], ...] = ()
    dispute_id: str | None = None
    promise_date: date | None = None
    payment_in_progress: str | None = None
    hold_until: date | None = None
    excluded: bool = False
    policy_override: str | None = None

    def state_on(
        self,
        balance_minor: int,
        touches: int,
        steps_done: frozenset[str],
        last_touch_on: date | None,
        promise_date: date | None,
    ) -> InvoiceState:
        """The invoice as the planner reads it on a day of the replay."""
        return InvoiceState(
            invoice_id=self.invoice_id,
            customer_id=self.customer_id,
            issue_date=self.issue_date,
            due_date=self.due_date,
            currency=self.currency,
            amount_minor=self.amount_minor,
            balance_minor=balance_minor,
            dispute_id=self.dispute_id,
            promise_date=promise_date,
            payment_in_progress=self.payment_in_progress,
            hold_until=self.hold_until,
            excluded=self.excluded,
            policy_override=self.policy_override,
            touches=touches,
            steps_done=steps_done,
            last_touch_on=last_touch_on,
        )


@dataclass(frozen=True)
class SimLedger:
    customers: Mapping[str, CustomerState]
    invoices: Sequence[SimInvoice]


# --- what comes out -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimTouch:
    """One message or task the run would have made: one customer, one channel, one day."""

    date: date
    customer_id: str
    invoice_ids: tuple[str, ...]
    channel: Channel
    steps: tuple[str, ...]
    template: str | None
    fallback_from: Channel | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "customer_id": self.customer_id,
            "invoice_ids": list(self.invoice_ids),
            "channel": self.channel,
            "steps": list(self.steps),
            "template": self.template,
            "fallback_from": self.fallback_from,
        }


@dataclass(frozen=True)
class SimTotals:
    """What the window adds up to. Invoices counted are those open on at least one day of the window;
    touches are invoice touches (an email listing three invoices is three touches, one message)."""

    invoices: int
    invoices_touched: int
    touches: int
    touches_per_invoice_mean: float
    touches_per_invoice_max: int
    invoices_reaching_step: dict[str, int]
    first_touches: int  # invoices touched for the first time ever inside the window
    first_touch_age_median: float | None
    first_touch_age_min: int | None
    late_invoices: int  # paid after their due date, or still open past it, inside the window
    late_touched_before_paid: int
    messages: int
    messages_per_day_max: int
    messages_per_day_median: float
    tasks: int  # calls, letters and agency referrals, and a call for each broken promise
    tasks_per_day_max: int
    tasks_per_day_median: float
    channels: dict[str, int]  # messages or tasks per channel
    broken_promises: int
    invoices_without_customer: int

    @property
    def late_touched_share(self) -> float | None:
        return None if not self.late_invoices else round(self.late_touched_before_paid / self.late_invoices, 4)

    def to_json(self) -> dict[str, Any]:
        return {
            "invoices": self.invoices,
            "invoices_touched": self.invoices_touched,
            "touches": self.touches,
            "touches_per_invoice": {"mean": self.touches_per_invoice_mean, "max": self.touches_per_invoice_max},
            "invoices_reaching_step": dict(self.invoices_reaching_step),
            "first_touch_age_days": {
                "invoices": self.first_touches,
                "median": self.first_touch_age_median,
                "min": self.first_touch_age_min,
            },
            "late_invoices": {
                "count": self.late_invoices,
                "touched_before_paid": self.late_touched_before_paid,
                "share": self.late_touched_share,
            },
            "messages": self.messages,
            "messages_per_day": {"max": self.messages_per_day_max, "median": self.messages_per_day_median},
            "tasks": self.tasks,
            "tasks_per_day": {"max": self.tasks_per_day_max, "median": self.tasks_per_day_median},
            "channels": dict(self.channels),
            "broken_promises": self.broken_promises,
            "invoices_without_customer": self.invoices_without_customer,
        }


@dataclass(frozen=True)
class SimResult:
    start: date
    days: int
    touches: tuple[SimTouch, ...]
    totals: SimTotals

    def to_json(self) -> dict[str, Any]:
        return {"touches": [t.to_json() for t in self.touches], "totals": self.totals.to_json()}


@dataclass(frozen=True)
class Comparison:
    """Two policy files over the same ledger and days: `a` is the one tried, `b` the one compared with."""

    a: SimResult
    b: SimResult

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a.totals.to_json(), "b": self.b.totals.to_json()}


# --- the replay -----------------------------------------------------------------------------------------------


@dataclass
class _Track:
    """One invoice during the replay: its money by day, and what the policy has done to it so far."""

    invoice: SimInvoice
    policy: Policy | None
    require_verified: bool
    paid_days: list[int]  # ordinals of the days money arrived, ascending
    paid_sums: list[int]  # money applied up to and including each of those days
    settled_on: date | None = None  # the first day nothing (above tolerance) is owed
    promise_date: date | None = None  # cleared once broken, as the run does
    touches: int = 0
    steps_done: frozenset[str] = frozenset()
    last_touch_on: date | None = None
    first_touch: date | None = None
    window_touches: int = 0
    window_steps: set[str] = field(default_factory=set)
    known: InvoiceState | None = None  # the state last planned, reused while nothing in it has changed

    def balance_on(self, day: date) -> int:
        index = bisect_right(self.paid_days, day.toordinal())
        return self.invoice.amount_minor - (self.paid_sums[index - 1] if index else 0)

    def state_on(self, balance_minor: int) -> InvoiceState:
        known = self.known
        if known is None or known.balance_minor != balance_minor:
            known = self.known = self.invoice.state_on(
                balance_minor, self.touches, self.steps_done, self.last_touch_on, self.promise_date
            )
        return known

    def open_window(self, start: date, end: date) -> tuple[date, date] | None:
        """The first and last day of the window the invoice is open on, if any."""
        first = max(start, self.invoice.issue_date)
        last = end if self.settled_on is None else min(end, self.settled_on - timedelta(days=1))
        return (first, last) if first <= last else None


@dataclass
class _Run:
    start: date
    end: date
    touches: list[SimTouch] = field(default_factory=list)
    broken_promises: Counter[date] = field(default_factory=Counter)


def simulate(ledger: SimLedger, policy_file: PolicyFile, start: date, days: int) -> SimResult:
    """Every touch `policy_file` would have made on the `days` local days from `start`, and the totals."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"days must be from 1 to {MAX_DAYS}, not {days}")
    run = _Run(start, start + timedelta(days=days - 1))
    tracks: list[_Track] = []
    without_customer = 0
    for customer_id, invoices in _by_customer(ledger.invoices).items():
        customer = ledger.customers.get(customer_id)
        if customer is None:
            without_customer += len(invoices)
            continue
        resolve = _resolver(policy_file, customer)
        candidates = (i for i in invoices if _may_be_open(i, run))
        mine = [t for t in (_track(resolve, i, run.end) for i in candidates) if _in_play(t, run)]
        _replay_customer(customer, mine, run)
        tracks.extend(mine)
    run.touches.sort(key=lambda t: (t.date, t.customer_id, _CHANNEL_ORDER[t.channel]))
    totals = _totals(run, tracks, policy_file, without_customer)
    return SimResult(start, days, tuple(run.touches), totals)


def compare(ledger: SimLedger, a: PolicyFile, b: PolicyFile, start: date, days: int) -> Comparison:
    return Comparison(simulate(ledger, a, start, days), simulate(ledger, b, start, days))


def _by_customer(invoices: Iterable[SimInvoice]) -> dict[str, list[SimInvoice]]:
    # Sorted, so the replay (and every tie in it) is the same whatever order the ledger listed invoices in.
    grouped: dict[str, list[SimInvoice]] = {}
    for invoice in invoices:
        grouped.setdefault(invoice.customer_id, []).append(invoice)
    return {c: sorted(grouped[c], key=lambda i: i.invoice_id) for c in sorted(grouped)}


def _may_be_open(invoice: SimInvoice, run: _Run) -> bool:
    """Issued by the end and not paid in full by the first day: the only invoices the window can see."""
    paid = sum(amount for day, amount in invoice.applied if day <= run.start)
    return invoice.issue_date <= run.end and paid < invoice.amount_minor


_Chosen = tuple[Policy | None, bool]


def _resolver(policy_file: PolicyFile, customer: CustomerState) -> Callable[[SimInvoice], _Chosen]:
    """The policy an invoice follows and whether its segment wants verified master data first; resolved once
    per customer for the invoices without an override of their own."""
    shared: list[_Chosen] = []

    def chosen(resolution: Resolution) -> _Chosen:
        return resolution.policy, bool(resolution.segment and resolution.segment.require_verified_master_data)

    def resolve(invoice: SimInvoice) -> _Chosen:
        if invoice.excluded or invoice.policy_override or invoice.invoice_id in policy_file.invoice_overrides:
            state = invoice.state_on(invoice.amount_minor, 0, frozenset(), None, None)
            return chosen(resolve_policy(policy_file, customer, state))
        if not shared:
            shared.append(chosen(resolve_policy(policy_file, customer)))
        return shared[0]

    return resolve


def _track(resolve: Callable[[SimInvoice], _Chosen], invoice: SimInvoice, end: date) -> _Track:
    policy, required = resolve(invoice)
    applied = sorted((day.toordinal(), amount) for day, amount in invoice.applied if day.toordinal() <= end.toordinal())
    sums = list(accumulate(amount for _, amount in applied))
    track = _Track(invoice, policy, required, [d for d, _ in applied], sums)
    track.promise_date = invoice.promise_date
    track.settled_on = _settled_on(track)
    return track


def _settled_on(track: _Track) -> date | None:
    """The first day the balance is at or below the policy's tolerance: from then on nothing is chased."""
    tolerance = _tolerance_minor(track.policy, track.invoice.currency)
    owed = track.invoice.amount_minor
    if owed <= tolerance:
        return track.invoice.issue_date
    for day, paid in zip(track.paid_days, track.paid_sums, strict=True):
        if owed - paid <= tolerance:
            return max(date.fromordinal(day), track.invoice.issue_date)
    return None


def _tolerance_minor(policy: Policy | None, currency: str) -> int:
    return 0 if policy is None else _tolerance_in(policy.tolerance, currency)


@lru_cache(maxsize=1024)
def _tolerance_in(tolerance: Decimal, currency: str) -> int:
    """The tolerance in minor units, more decimals than the currency has rounded down (as the planner does)."""
    try:
        return to_minor(tolerance, currency)
    except ValidationError:
        try:
            scaled = tolerance.scaleb(currency_exponent(currency))
        except ValidationError:  # a currency the money module does not know: nothing is tolerated
            return 0
        return int(scaled.to_integral_value(rounding=ROUND_FLOOR))


def _in_play(track: _Track, run: _Run) -> bool:
    return track.open_window(run.start, run.end) is not None


def _replay_customer(customer: CustomerState, tracks: Sequence[_Track], run: _Run) -> None:
    """The customer's days that can change anything, from its oldest invoice's issue date to the end."""
    if not tracks:
        return
    by_id = {t.invoice.invoice_id: t for t in tracks}
    wakes: list[tuple[int, str]] = []
    for track in tracks:
        wakes.append((track.invoice.issue_date.toordinal(), track.invoice.invoice_id))
        wakes.extend((day, track.invoice.invoice_id) for day in track.paid_days)
    heapq.heapify(wakes)

    def choose(invoice: InvoiceState) -> tuple[Policy | None, bool]:
        track = by_id[invoice.invoice_id]
        return track.policy, track.require_verified

    last = run.end.toordinal()
    while wakes and wakes[0][0] <= last:
        ordinal = wakes[0][0]
        due: set[str] = set()
        while wakes and wakes[0][0] == ordinal:
            due.add(heapq.heappop(wakes)[1])
        _plan_day(customer, [by_id[i] for i in sorted(due)], date.fromordinal(ordinal), choose, run, wakes)


def _plan_day(
    customer: CustomerState,
    tracks: list[_Track],
    day: date,
    choose: Callable[[InvoiceState], tuple[Policy | None, bool]],
    run: _Run,
    wakes: list[tuple[int, str]],
) -> None:
    by_id: dict[str, _Track] = {}
    states: list[InvoiceState] = []
    for track in tracks:
        if track.invoice.issue_date > day:
            continue
        balance = track.balance_on(day)
        if balance <= 0:
            continue  # paid: nothing is planned for it again
        by_id[track.invoice.invoice_id] = track
        states.append(track.state_on(balance))
    if not states:
        return
    plan = plan_customer(customer, states, choose, day)
    for decision in plan.decisions:
        track = by_id[decision.invoice_id]
        if decision.broken_promise:
            # The run clears a broken promise (dunning resumes) and makes a call task for it.
            track.promise_date = None
            track.known = None
            if day >= run.start:
                run.broken_promises[day] += 1
        next_day = decision.next_action_date
        if next_day is not None and decision.hold_reason not in _STATIC_HOLDS and next_day > day:
            heapq.heappush(wakes, (next_day.toordinal(), decision.invoice_id))
    for touch in plan.touches:
        for item in touch.items:
            _touched(by_id[item.invoice_id], item.step_id, day, run.start)
        if day >= run.start:
            run.touches.append(
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


def _touched(track: _Track, step_id: str, day: date, start: date) -> None:
    track.touches += 1
    track.steps_done |= {step_id}
    track.last_touch_on = day
    track.known = None
    if track.first_touch is None:
        track.first_touch = day
    if day >= start:
        track.window_touches += 1
        track.window_steps.add(step_id)


# --- totals -----------------------------------------------------------------------------------------------------


def _totals(run: _Run, tracks: Sequence[_Track], policy_file: PolicyFile, without_customer: int) -> SimTotals:
    days = [run.start + timedelta(days=n) for n in range((run.end - run.start).days + 1)]
    messages = Counter(t.date for t in run.touches if t.channel in MESSAGE_CHANNELS)
    tasks = Counter(t.date for t in run.touches if t.channel in PERSONAL_CHANNELS) + run.broken_promises
    ages = [(t.first_touch - t.invoice.issue_date).days for t in tracks if t.first_touch and t.first_touch >= run.start]
    late = [t for t in tracks if _late(t, run)]
    per_invoice = [t.window_touches for t in tracks]
    channels = Counter(t.channel for t in run.touches)
    return SimTotals(
        invoices=len(tracks),
        invoices_touched=sum(1 for n in per_invoice if n),
        touches=sum(per_invoice),
        touches_per_invoice_mean=round(statistics.fmean(per_invoice), 3) if per_invoice else 0.0,
        touches_per_invoice_max=max(per_invoice, default=0),
        invoices_reaching_step=_reaching(tracks, policy_file),
        first_touches=len(ages),
        first_touch_age_median=float(statistics.median(ages)) if ages else None,
        first_touch_age_min=min(ages, default=None),
        late_invoices=len(late),
        late_touched_before_paid=sum(1 for t in late if t.window_touches),
        messages=sum(messages.values()),
        messages_per_day_max=max((messages[d] for d in days), default=0),
        messages_per_day_median=float(statistics.median(messages[d] for d in days)),
        tasks=sum(tasks.values()),
        tasks_per_day_max=max((tasks[d] for d in days), default=0),
        tasks_per_day_median=float(statistics.median(tasks[d] for d in days)),
        channels={c: channels[c] for c in CHANNELS if channels[c]},
        broken_promises=sum(run.broken_promises.values()),
        invoices_without_customer=without_customer,
    )


def _late(track: _Track, run: _Run) -> bool:
    """Open on a day of the window after its due date: paid late, or still unpaid past due."""
    window = track.open_window(run.start, run.end)
    return window is not None and window[1] > track.invoice.due_date


def _reaching(tracks: Sequence[_Track], policy_file: PolicyFile) -> dict[str, int]:
    """Invoices that received each step inside the window, in the order the policies list their steps."""
    counts = Counter(step for t in tracks for step in t.window_steps)
    order = [step.id for policy in policy_file.policies.values() for step in policy.steps]
    known = {step: counts[step] for step in dict.fromkeys(order)}
    return known | {step: counts[step] for step in sorted(counts) if step not in known}


# --- from the stored tables -----------------------------------------------------------------------------------


def sim_invoice(record: Any) -> SimInvoice:
    """A stored invoice (InvoiceRecord) with its history. Money the ERP's balance shows as settled that no
    known document explains is dated on the day the ERP said so (else the day it was paid, else issued)."""
    issued = date.fromisoformat(record.issue_date)
    applied = [(date.fromisoformat(a.paid_on[:10]), int(a.amount_minor)) for a in record.applied or []]
    amount = int(record.amount_minor)
    unexplained = amount - sum(minor for _, minor in applied) - int(record.balance_minor)
    if unexplained > 0:
        said_on = record.erp_balance_on or record.paid_on
        applied.append((date.fromisoformat(said_on[:10]) if said_on else issued, unexplained))
    return SimInvoice(
        invoice_id=record.invoice_id,
        customer_id=record.customer_id,
        issue_date=issued,
        due_date=date.fromisoformat(record.due_date),
        currency=record.currency,
        amount_minor=amount,
        applied=tuple(sorted(applied)),
        dispute_id=record.dispute_id,
        promise_date=_day(record.promise_date),
        payment_in_progress=record.payment_in_progress,
        hold_until=_day(record.hold_until),
        excluded=bool(record.dunning_excluded),
        policy_override=record.policy_override,
    )


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def load_ledger(progress: Callable[[int], None] | None = None, every: int = PROGRESS_EVERY) -> SimLedger:
    """Every customer and invoice, read with a Scan (a read-only staff tool; the tables must be bound).
    `progress` is told how many invoices have been read, every `every` invoices."""
    from shared.data.tables import CustomerRecord, InvoiceRecord
    from shared.dunning.state import customer_state

    customers = {record.customer_id: customer_state(record) for record in CustomerRecord.scan()}
    invoices: list[SimInvoice] = []
    for record in InvoiceRecord.scan():
        invoices.append(sim_invoice(record))
        if progress is not None and len(invoices) % every == 0:
            progress(len(invoices))
    return SimLedger(customers, invoices)


__all__ = [
    "Comparison",
    "SimInvoice",
    "SimLedger",
    "SimResult",
    "SimTotals",
    "SimTouch",
    "compare",
    "load_ledger",
    "sim_invoice",
    "simulate",
]
