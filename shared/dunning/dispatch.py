"""One batch of a dunning run: for each customer, plan from what the index said, claim each customer·channel·day
message (exactly once), move the invoices on, then deliver.

Exactly once: the claim, the customer check and the invoice updates are one transaction (see repository.py).
A re-run of the day, a retried Lambda and an overlapping run all meet the existing claim and send nothing; an
invoice that changed since the index was read (paid, disputed, promised a moment ago) fails the transaction and
is read again and re-planned before anything leaves. Delivery comes after the claim: a delivery that fails is
marked failed and handed to the retry queue; a crash between claim and delivery leaves the claim pending, and
the run's last step hands it to the retry queue too. Nothing claimed is silently dropped."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from shared.data.tables import ActivityRecord, CustomerRecord, DunningBatchRecord, InvoiceRecord, SendRecord
from shared.dunning.model import (
    MESSAGE_CHANNELS,
    CustomerState,
    Decision,
    InvoiceState,
    PlannedTouch,
    Policy,
    PolicyFile,
    SendWindow,
)
from shared.dunning.planner import plan_customer
from shared.dunning.policy import resolve_policy
from shared.dunning.repository import (
    PENDING_SHARD,
    AlreadyClaimed,
    ChangedSinceRead,
    DunningStore,
    InvoiceUpdate,
)
from shared.dunning.run import RunCounts, RunRequest
from shared.dunning.state import (
    customer_state,
    decision_actions,
    index_value,
    invoice_state,
    next_action_value,
    record_from_snapshot,
)
from shared.dunning.tasks import new_task
from shared.dunning.window import closes_at, local_date, next_send_day, opens_at

MAX_REPLANS = 3
LAST_MINUTE = timedelta(minutes=1)  # a window is [start, end): a stamp after it closes is its last minute
# Invoices per claim transaction: the claim and the customer check take two of DynamoDB's 100 items.
INVOICES_PER_CLAIM = 98
OUTCOMES_KEPT = 500  # per batch record: enough to explain a run, bounded so the item stays small
BATCH_RECORD_TTL = timedelta(days=90)


class DeliveryError(Exception):
    """The message could not be handed to SES/SNS/S3 now; it will be retried."""


class NothingToSend(Exception):
    """Every invoice the message was about is paid (or gone) by now: never remind what is paid."""


class Deliverer(Protocol):
    def deliver(self, send: SendRecord, customer: CustomerRecord, now: datetime) -> str | None:
        """Send the claimed message (or make its task/letter/referral); returns the message id if any."""
        ...


class RetryQueue(Protocol):
    def enqueue(self, send_key: str) -> None: ...


PolicySource = Callable[[], PolicyFile | None]


def send_key(customer_id: str, channel: str, day: date) -> str:
    return f"{customer_id}#{channel}#{day.isoformat()}"


@dataclass
class CustomerResult:
    counts: RunCounts
    outcomes: list[dict[str, Any]]


class Dispatcher:
    def __init__(
        self,
        store: DunningStore,
        deliverer: Deliverer,
        retry_queue: RetryQueue,
        policies: PolicySource,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.deliverer = deliverer
        self.retry_queue = retry_queue
        self.policies = policies
        self.clock = clock

    # --- a batch ----------------------------------------------------------------------------------------

    def dispatch_batch(self, request: RunRequest, batch: Mapping[str, Any]) -> RunCounts:
        policy_file = self.policies()
        counts = RunCounts()
        outcomes: list[dict[str, Any]] = []
        for entry in batch.get("customers") or []:
            result = self.dispatch_customer(request, entry, policy_file)
            counts.add(result.counts)
            outcomes.extend(result.outcomes)
        self.store.put_batch(
            DunningBatchRecord(
                request.run_id,
                # One record per attempt: a batch the state machine retried keeps what each attempt did (the
                # retry finds the first attempt's messages claimed and sends nothing twice).
                f"{batch.get('batch_id') or 'b'}#{uuid.uuid4().hex[:8]}",
                counts=counts.to_json(),
                outcomes=outcomes[:OUTCOMES_KEPT],
                finished_at=self.clock(),
                expires_at=int((self.clock() + BATCH_RECORD_TTL).timestamp()),
            )
        )
        return counts

    def dispatch_customer(
        self, request: RunRequest, entry: Mapping[str, Any], policy_file: PolicyFile | None
    ) -> CustomerResult:
        counts = RunCounts(customers=1)
        outcomes: list[dict[str, Any]] = []
        customer_id = str(entry["customer_id"])
        records = [record_from_snapshot(s) for s in entry.get("invoices") or []]
        if policy_file is None:
            counts.skipped["no_policy"] += len(records)
            outcomes.append({"customer_id": customer_id, "outcome": "skipped", "reason": "no_policy"})
            return CustomerResult(counts, outcomes)
        customer = self.store.customer(customer_id)
        if customer is None:
            counts.skipped["unknown_customer"] += len(records)
            return CustomerResult(counts, outcomes)
        for attempt in range(MAX_REPLANS + 1):
            try:
                self._plan_and_claim(request, customer, records, policy_file, counts, outcomes)
                return CustomerResult(counts, outcomes)
            except ChangedSinceRead as changed:
                if attempt == MAX_REPLANS:
                    counts.skipped["changed_during_run"] += len(records)
                    return CustomerResult(counts, outcomes)
                if changed.customer:
                    fresh = self.store.customer(customer_id)
                    if fresh is None:
                        return CustomerResult(counts, outcomes)
                    customer = fresh
                reread = self.store.invoices(r.invoice_id for r in records)
                records = [reread[r.invoice_id] for r in records if r.invoice_id in reread]
        return CustomerResult(counts, outcomes)

    # --- one customer -----------------------------------------------------------------------------------

    def _plan_and_claim(
        self,
        request: RunRequest,
        customer: CustomerRecord,
        records: Sequence[InvoiceRecord],
        policy_file: PolicyFile,
        counts: RunCounts,
        outcomes: list[dict[str, Any]],
    ) -> None:
        state = customer_state(customer)
        window = _customer_window(policy_file, state)
        day, closed = self.local_day(request, state, window)
        if request.as_of is None and request.instant < opens_at(window, day, state.timezone):
            # An hourly run reached the customer before its window opens (a bare date from the ledger): look
            # again when it opens today.
            opening = index_value(day, window, state.timezone)
            for record in records:
                if record.next_action_date != opening:
                    actions = [InvoiceRecord.next_action_date.set(opening)]
                    self.store.update_invoice(InvoiceUpdate(record, actions))
                counts.skipped["before_window"] += 1
            return
        by_id = {r.invoice_id: r for r in records}
        states = [invoice_state(r) for r in records]

        def choose(invoice: InvoiceState) -> tuple[Policy | None, bool]:
            resolution = resolve_policy(policy_file, state, invoice)
            required = bool(resolution.segment and resolution.segment.require_verified_master_data)
            return resolution.policy, required

        plan = plan_customer(state, states, choose, day, window_closed_today=closed)
        policies = {s.invoice_id: choose(s)[0] for s in states}
        decisions = {d.invoice_id: d for d in plan.decisions}
        touched_ids: set[str] = set()
        for touch in plan.touches:
            send = self._claim_touch(request, customer, state, touch, day, window, decisions, by_id, policies)
            touched_ids.update(touch.invoice_ids)
            if send is None:  # already sent today on this channel: the invoices wait for the next send day
                for item in touch.items:
                    self._defer(by_id[item.invoice_id], state, policies[item.invoice_id], day)
                    counts.skipped["already_sent_today"] += 1
                outcomes.append(_outcome(touch, "skipped", "already_sent_today"))
                continue
            counts.touched += len(touch.items)
            # At once: should a later claim of this customer fail and the customer be planned again, this one
            # is not left waiting for the run's sweep.
            self.deliver(send, customer, counts, outcomes)
        for decision in plan.decisions:
            record = by_id[decision.invoice_id]
            if decision.broken_promise:
                self._broken_promise_task(customer, record, day)
                counts.tasks["broken_promise"] += 1
            if decision.invoice_id in touched_ids:
                continue
            self._move_on(record, decision, state, policies[decision.invoice_id], day)
            if decision.hold_reason:
                counts.skipped[decision.hold_reason] += 1
                outcomes.append(
                    {
                        "customer_id": customer.customer_id,
                        "invoice_ids": [decision.invoice_id],
                        "outcome": "skipped",
                        "reason": decision.hold_reason,
                    }
                )

    def local_day(self, request: RunRequest, state: CustomerState, window: SendWindow) -> tuple[date, bool]:
        """The customer's day this run plans for, and whether its send window has already closed on it."""
        if request.as_of is not None:
            return request.as_of, False
        day = local_date(request.instant, state.timezone)
        return day, request.instant >= closes_at(window, day, state.timezone)

    def sent_at(self, request: RunRequest, state: CustomerState, window: SendWindow, day: date) -> datetime:
        """The system's time of sending: now, or — in a run for a given day — the window's opening on it."""
        if request.as_of is None:
            return request.instant
        opens, closes = opens_at(window, day, state.timezone), closes_at(window, day, state.timezone)
        if local_date(request.instant, state.timezone) == day:  # today: now, kept inside the window
            return min(max(request.instant, opens), closes - LAST_MINUTE)
        return opens

    def _claim_touch(
        self,
        request: RunRequest,
        customer: CustomerRecord,
        state: CustomerState,
        touch: PlannedTouch,
        day: date,
        window: SendWindow,
        decisions: Mapping[str, Decision],
        by_id: Mapping[str, InvoiceRecord],
        policies: Mapping[str, Policy | None],
    ) -> SendRecord | None:
        now = self.clock()
        key = send_key(customer.customer_id, touch.channel, day)
        send = SendRecord(
            key,
            customer_id=customer.customer_id,
            channel=touch.channel,
            invoice_ids=list(touch.invoice_ids),
            steps=list(touch.steps),
            status="claimed",
            run_id=request.run_id,
            local_date=day.isoformat(),
            details=touch_details(touch, self.sent_at(request, state, window, day)),
            pending_shard=PENDING_SHARD,
            created_at=now,
        )
        updates = []
        for item in touch.items:
            record = by_id[item.invoice_id]
            decision = decisions[item.invoice_id]
            actions = decision_actions(
                record,
                decision,
                touched=decision.step,
                local_day=day,
                policy=policies[item.invoice_id],
                timezone=state.timezone,
            )
            updates.append(InvoiceUpdate(record, actions))
        try:
            self.store.claim(send, customer, updates[:INVOICES_PER_CLAIM])
        except AlreadyClaimed:
            return None
        for update in updates[INVOICES_PER_CLAIM:]:
            self.store.update_invoice(update)  # listed in the message already; a lost race only moves a date
        return send

    def _move_on(
        self, record: InvoiceRecord, decision: Decision, state: CustomerState, policy: Policy | None, day: date
    ) -> None:
        unchanged = next_action_value(decision.next_action_date, policy, state.timezone) == record.next_action_date
        if unchanged and not decision.broken_promise:
            return  # nothing to write: the index already says when to look again
        actions = decision_actions(
            record, decision, touched=None, local_day=day, policy=policy, timezone=state.timezone
        )
        # A lost condition means the invoice changed meanwhile (paid, disputed): whatever changed it decides.
        self.store.update_invoice(InvoiceUpdate(record, actions))

    def _defer(self, record: InvoiceRecord, state: CustomerState, policy: Policy | None, day: date) -> None:
        window = policy.send_window if policy is not None else SendWindow()
        later = next_send_day(window, day + timedelta(days=1), state.country)
        decision = Decision(
            invoice_id=record.invoice_id, policy=None, hold_reason="already_sent_today", next_action_date=later
        )
        self._move_on(record, decision, state, policy, day)

    def _broken_promise_task(self, customer: CustomerRecord, record: InvoiceRecord, day: date) -> None:
        now = self.clock()
        self.store.put_task(
            new_task(
                f"broken_promise#{record.invoice_id}#{record.promise_date or day.isoformat()}",
                customer_id=customer.customer_id,
                kind="broken_promise",
                invoice_ids=[record.invoice_id],
                due=day.isoformat(),
                reason=f"promise to pay invoice {record.invoice_id} by {record.promise_date} was not kept",
                now=now,
            )
        )

    # --- delivery ---------------------------------------------------------------------------------------

    def deliver(
        self, send: SendRecord, customer: CustomerRecord, counts: RunCounts, outcomes: list[dict[str, Any]]
    ) -> bool:
        try:
            message_id = self.deliverer.deliver(send, customer, self.clock())
        except NothingToSend:
            cancel(send, self.store)
            counts.skipped["paid_at_send"] += len(send.invoice_ids)
            return False
        except DeliveryError as exc:
            send.status = "failed"
            send.error = str(exc)[:500]
            send.attempts = int(send.attempts or 0) + 1
            self.store.save_send(send)
            self.retry_queue.enqueue(send.send_key)
            counts.failed += 1
            outcomes.append(
                {
                    "customer_id": send.customer_id,
                    "invoice_ids": list(send.invoice_ids),
                    "channel": send.channel,
                    "outcome": "failed",
                    "reason": send.error,
                }
            )
            return False
        mark_delivered(send, message_id, self.store, self.clock())
        if send.channel in MESSAGE_CHANNELS:
            counts.sent[send.channel] += 1
        else:
            counts.tasks[send.channel] += 1
        outcomes.append(
            {
                "customer_id": send.customer_id,
                "invoice_ids": list(send.invoice_ids),
                "channel": send.channel,
                "steps": list(send.steps),
                "outcome": "sent" if send.channel in MESSAGE_CHANNELS else "task",
            }
        )
        return True


def cancel(send: SendRecord, store: DunningStore) -> None:
    """Paid between the claim and the send: the claim is closed without a message."""
    send.status = "cancelled"
    send.pending_shard = None
    store.save_send(send)


def mark_delivered(send: SendRecord, message_id: str | None, store: DunningStore, now: datetime) -> None:
    """The claim becomes `sent`, out of the pending index, with the activity on the customer's timeline."""
    details = send.details or {}
    sent_at = datetime.fromisoformat(details["sent_at"]) if details.get("sent_at") else now
    send.status = "sent"
    send.message_id = message_id
    send.sent_at = sent_at
    send.pending_shard = None
    send.attempts = int(send.attempts or 0) + 1
    store.save_send(send)
    channel = send.channel
    what = {
        "email": "Reminder email",
        "sms": "Reminder SMS",
        "call": "Call task",
        "letter": "Letter",
        "agency": "Agency referral",
    }
    store.put_activity(
        ActivityRecord(
            send.customer_id,
            f"{sent_at.astimezone(UTC).isoformat()}#touch#{send.send_key}",
            kind="touch",
            invoice_ids=list(send.invoice_ids),
            summary=f"{what.get(channel, channel)}: {', '.join(send.steps)} ({len(send.invoice_ids)} invoice(s))",
            details={
                "channel": channel,
                "steps": list(send.steps),
                "message_id": message_id,
                "send_key": send.send_key,
            },
            occurred_at=sent_at,
        )
    )


TOUCH_NAMES = {
    "email": "Reminder email",
    "sms": "Reminder SMS",
    "call": "Call task",
    "letter": "Letter",
    "agency": "Agency referral",
}


def _outcome(touch: PlannedTouch, outcome: str, reason: str) -> dict[str, Any]:
    return {
        "customer_id": touch.customer_id,
        "invoice_ids": list(touch.invoice_ids),
        "channel": touch.channel,
        "outcome": outcome,
        "reason": reason,
    }


def touch_details(touch: PlannedTouch, sent_at: datetime) -> dict[str, Any]:
    """What the sender needs to (re)send the message later, without the planner."""
    return {
        "template": touch.template,
        "fallback_from": touch.fallback_from,
        "sent_at": sent_at.astimezone(UTC).isoformat(),
        "items": [
            {
                "invoice_id": i.invoice_id,
                "currency": i.currency,
                "balance_minor": i.balance_minor,
                "step_id": i.step_id,
                "template": i.template,
                "final": i.final,
            }
            for i in touch.items
        ],
    }


def _customer_window(policy_file: PolicyFile, state: CustomerState) -> SendWindow:
    """The window of the customer's own policy (its override, else its segment's)."""
    policy = resolve_policy(policy_file, state).policy
    return policy.send_window if policy is not None else SendWindow()


def batch_counts(batches: Sequence[DunningBatchRecord]) -> RunCounts:
    total = RunCounts()
    for batch in batches:
        total.add(RunCounts.from_json(batch.counts or {}))
    return total
