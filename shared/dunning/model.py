"""The dunning vocabulary every part shares: a policy file as applied (policies, segments, overrides), the
state the planner reads for an invoice and its customer, and the planner's decision.

Plain frozen dataclasses: the planner is a pure function of these (no clock, no I/O), the policy parser
(shared/dunning/policy.py) builds them from YAML, the run (shared/dunning/run.py) from stored items and the
simulator (shared/dunning/simulate.py) from a replayed ledger. Money is in integer minor units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import Literal

Anchor = Literal["invoice_date", "due_date"]
Channel = Literal["email", "sms", "call", "letter", "agency"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "call", "letter", "agency")
# Sent by the system itself; the others become tasks for a person (PRODUCT.md 1.3 rule 3).
AUTOMATED_CHANNELS: frozenset[str] = frozenset({"email", "sms"})
PERSONAL_CHANNELS: frozenset[str] = frozenset({"call", "letter", "agency"})
# Channels that leave as one message per customer per day (rule 4); the others are tasks.
MESSAGE_CHANNELS: frozenset[str] = AUTOMATED_CHANNELS
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Step:
    id: str
    anchor: Anchor
    offset_days: int
    channel: Channel
    template: str | None = None  # required for email and sms; calls, letters and agency may name one
    final: bool = False  # a final notice or an agency referral: needs `min_touches` touches first
    min_balance: Decimal | None = None  # in the invoice's currency: the step is skipped for balances below


@dataclass(frozen=True)
class SendWindow:
    start: time = time(9, 0)
    end: time = time(17, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # date.weekday(): 0 is Monday
    # Public holidays from the `holidays` library: a country code ("US", "GB", "DE"), a subdivision
    # ("US-NY", "CA-ON"), "customer" (the customer's own country) or None (no holidays).
    holidays: str | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    first_touch_min_age_days: int = 14
    min_touches: int = 4
    min_gap_days: int = 3
    tolerance: Decimal = Decimal("1.00")  # in the invoice's currency: balances at or below are not chased
    send_window: SendWindow = field(default_factory=SendWindow)
    promise_grace_days: int = 3  # a promise is broken this many days after its date


@dataclass(frozen=True)
class SegmentMatch:
    """Every given condition must hold (an empty match matches every customer)."""

    min_open_balance: Decimal | None = None  # the customer's open balance in its own currency
    max_open_balance: Decimal | None = None
    min_terms_days: int | None = None
    max_terms_days: int | None = None
    countries: frozenset[str] | None = None
    currencies: frozenset[str] | None = None
    origins: frozenset[str] | None = None  # erp | invited


@dataclass(frozen=True)
class Segment:
    name: str
    policy: str
    match: SegmentMatch = field(default_factory=SegmentMatch)
    customers: frozenset[str] = frozenset()  # assigned by hand: these customers are in it whatever the rules
    # ERP-imported customers are dunned from the start unless their segment wants verified master data first.
    require_verified_master_data: bool = False


@dataclass(frozen=True)
class Override:
    """A customer's or an invoice's own policy, or its exclusion from dunning."""

    policy: str | None = None
    exclude: bool = False


@dataclass(frozen=True)
class PolicyFile:
    policies: dict[str, Policy]
    segments: tuple[Segment, ...]  # first match wins; a segment without conditions catches the rest
    customer_overrides: dict[str, Override] = field(default_factory=dict)
    invoice_overrides: dict[str, Override] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)  # template name -> Jinja2 source (AR team's own)


# --- what the planner reads ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceState:
    invoice_id: str
    customer_id: str
    issue_date: date
    due_date: date
    currency: str
    amount_minor: int
    balance_minor: int
    status: str = "open"  # open | paid
    dispute_id: str | None = None
    promise_date: date | None = None
    payment_in_progress: str | None = None
    hold_until: date | None = None  # no touch on or before this date
    excluded: bool = False
    policy_override: str | None = None
    touches: int = 0
    steps_done: frozenset[str] = frozenset()
    last_touch_on: date | None = None


@dataclass(frozen=True)
class CustomerState:
    customer_id: str
    timezone: str = "America/New_York"
    country: str | None = None
    currency: str = "USD"
    terms_days: int = 30
    open_balance_minor: int = 0  # in `currency`
    onboarding_status: str = "invited"  # invited | submitted | validating | awaiting_email_verification | active | ...
    origin: str = "erp"  # erp | invited
    segment: str = "default"
    segment_pinned: bool = False
    # The AP address passes the offline checks (syntax, not disposable, not no-reply); DNS is not asked.
    ap_email_ok: bool = False
    email_verified: bool = False
    email_bounced: bool = False
    has_phone: bool = False
    do_not_contact: bool = False
    auto_pay: bool = False
    hold_until: date | None = None


# --- what the planner decides ---------------------------------------------------------------------------

# Why nothing goes out for an invoice today: stable codes the run, the simulator and the CLI count.
HOLD_REASONS = (
    "paid",
    "below_tolerance",
    "disputed",
    "promised",
    "payment_in_progress",
    "on_hold",
    "excluded",
    "do_not_contact",
    "auto_pay",
    "onboarding",  # invited customers get onboarding reminders instead until active
    "unverified_master_data",  # the segment wants verified master data first
    "no_contact",  # no channel can reach the customer (no usable email and no phone)
    "outside_window",  # today is not a send day; the step waits for the next one
    "too_young",  # no step is due before the invoice is first_touch_min_age_days old
    "gap",  # the last touch was less than min_gap_days ago
    "not_due",  # no step falls on or before today
    "done",  # every step was sent
)


@dataclass(frozen=True)
class Decision:
    """The planner's answer for one invoice on one day (the customer's local date)."""

    invoice_id: str
    policy: str | None
    step: Step | None = None  # the one touch due today, if any (never more than one per invoice per day)
    hold_reason: str | None = None  # why there is no touch today (HOLD_REASONS); None when `step` is set
    skipped: tuple[tuple[str, str], ...] = ()  # (step id, reason) passed over for good: too_young, superseded
    next_action_date: date | None = None  # the next day the invoice needs the planner; None: nothing left
    broken_promise: bool = False  # the promise date plus grace passed unpaid: dunning resumes, a call task


@dataclass(frozen=True)
class PlannedItem:
    """One invoice's line in a message or task: the step it is for."""

    invoice_id: str
    currency: str
    balance_minor: int
    step_id: str
    template: str | None
    final: bool = False


@dataclass(frozen=True)
class PlannedTouch:
    """What goes to one customer on one channel on one day (rule 4): one email or SMS listing every invoice
    due a step, or one task (call, letter, agency). `template` is the most advanced step's template (the
    message's stage); items keep their own steps."""

    customer_id: str
    channel: Channel
    items: tuple[PlannedItem, ...]
    template: str | None
    # The channel the policy asked for, when the customer cannot be reached on it (no usable email: SMS,
    # then a call task).
    fallback_from: Channel | None = None

    @property
    def invoice_ids(self) -> tuple[str, ...]:
        return tuple(item.invoice_id for item in self.items)

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.step_id for item in self.items))


@dataclass(frozen=True)
class CustomerPlan:
    customer_id: str
    decisions: tuple[Decision, ...]  # one per invoice considered
    touches: tuple[PlannedTouch, ...]  # at most one per channel
