"""Between stored items and the planner: records → `InvoiceState` / `CustomerState`, the next-action index
value, and what a decision writes back on the invoice.

The index value (`next_action_date`) is the UTC instant a touch may go out — the opening of the send window
on the customer's local day — written as `YYYY-MM-DDTHH:MMZ`, so an hourly run asks each shard for what is
due *now* and every customer is reached inside its own business hours. The ledger, which knows no policy,
writes a bare date (`YYYY-MM-DD`); it sorts before every instant of that day, so the invoice is read on that
day and the planner places it precisely."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from pynamodb.expressions.update import Action

from shared.data.tables import DUNNING_ATTRIBUTES, NEXT_ACTION_SHARDS, CustomerRecord, InvoiceRecord, shard_of
from shared.dunning.model import CustomerState, Decision, InvoiceState, Policy, SendWindow, Step
from shared.dunning.window import opens_at

# Offline AP email checks this module counts as "passes": the contact's state after the import's checks.
_USABLE_EMAIL_STATES = {"unverified", "pending", "verified"}


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def invoice_state(record: InvoiceRecord) -> InvoiceState:
    return InvoiceState(
        invoice_id=record.invoice_id,
        customer_id=record.customer_id,
        issue_date=date.fromisoformat(record.issue_date),
        due_date=date.fromisoformat(record.due_date),
        currency=record.currency,
        amount_minor=int(record.amount_minor),
        balance_minor=int(record.balance_minor),
        status=record.status,
        dispute_id=record.dispute_id,
        promise_date=_day(record.promise_date),
        payment_in_progress=record.payment_in_progress,
        hold_until=_day(record.hold_until),
        excluded=bool(record.dunning_excluded),
        policy_override=record.policy_override,
        touches=int(record.touches or 0),
        steps_done=frozenset(record.steps_done or ()),
        last_touch_on=_day(record.last_touch_on),
    )


def primary_contact(record: CustomerRecord) -> Any | None:
    """The AP contact reminders go to: the first `ap` contact, else the first contact."""
    contacts = list(record.contacts or [])
    for contact in contacts:
        if contact.role == "ap":
            return contact
    return contacts[0] if contacts else None


def customer_phone(record: CustomerRecord) -> str | None:
    for contact in record.contacts or []:
        if contact.phone:
            return str(contact.phone)
    return None


def customer_state(record: CustomerRecord) -> CustomerState:
    contact = primary_contact(record)
    email_state = contact.email_state if contact is not None else None
    has_email = bool(record.ap_email or (contact is not None and contact.email))
    open_balances = record.open_balances()
    return CustomerState(
        customer_id=record.customer_id,
        timezone=record.timezone or "UTC",
        country=record.country,
        currency=record.currency,
        terms_days=int(record.terms_days),
        open_balance_minor=open_balances.get(record.currency, 0),
        onboarding_status=record.onboarding_status,
        origin=record.origin,
        segment=record.segment,
        segment_pinned=bool(record.segment_pinned),
        ap_email_ok=has_email and email_state in _USABLE_EMAIL_STATES,
        email_verified=email_state == "verified",
        email_bounced=email_state == "bounced",
        has_phone=customer_phone(record) is not None,
        do_not_contact=bool(record.do_not_contact),
        auto_pay=bool(record.auto_pay),
        hold_until=_day(record.hold_until),
    )


def index_value(day: date, window: SendWindow, timezone: str) -> str:
    """The next-action index value of a local day: when the customer's send window opens on it, in UTC."""
    return opens_at(window, day, timezone).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def due_cutoff_for_day(day: date) -> str:
    """A run "as of" a day covers the whole day: every window that opens on it, in every timezone west of
    UTC+14 whose window opens before midnight UTC."""
    return f"{day.isoformat()}T23:59Z"


def due_cutoff_at(instant: datetime) -> str:
    """An hourly run covers what became sendable up to now."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def decision_actions(
    record: InvoiceRecord,
    decision: Decision,
    *,
    touched: Step | None,
    local_day: date,
    policy: Policy | None,
    timezone: str,
) -> list[Action]:
    """What the planner decided, as an update of the invoice: the touch (if it goes out) and the next action.
    Written with the invoice's version as the condition, so nothing changed since the run read it."""
    actions: list[Action] = []
    if touched is not None:
        actions.append(InvoiceRecord.touches.set(int(record.touches or 0) + 1))
        actions.append(InvoiceRecord.steps_done.add({touched.id}))
        actions.append(InvoiceRecord.last_touch_on.set(local_day.isoformat()))
    if decision.broken_promise:
        actions.append(InvoiceRecord.promise_date.remove())
    value = next_action_value(decision.next_action_date, policy, timezone)
    if value is None:
        actions.append(InvoiceRecord.next_action_shard.remove())
        actions.append(InvoiceRecord.next_action_date.remove())
    else:
        actions.append(InvoiceRecord.next_action_date.set(value))
        actions.append(InvoiceRecord.next_action_shard.set(shard_of(record.invoice_id, NEXT_ACTION_SHARDS)))
    return actions


def next_action_value(day: date | None, policy: Policy | None, timezone: str) -> str | None:
    """The index value for a planned local day (None: out of the index)."""
    if day is None:
        return None
    return index_value(day, policy.send_window if policy is not None else SendWindow(), timezone)


def snapshot_of(record: InvoiceRecord) -> dict[str, Any]:
    """An invoice as the run's manifest carries it: the index projection, JSON-able."""
    values: Mapping[str, Any] = record.attribute_values
    out = {name: values.get(name) for name in _SNAPSHOT_FIELDS if values.get(name) is not None}
    out["steps_done"] = sorted(record.steps_done or ())
    return out


def record_from_snapshot(snapshot: Mapping[str, Any]) -> InvoiceRecord:
    """The invoice as the manifest carried it; enough to plan and to update it conditionally (never to save
    it whole: the applied payments are not in it)."""
    fields = {name: snapshot[name] for name in _SNAPSHOT_FIELDS if snapshot.get(name) is not None}
    record = InvoiceRecord(**fields)
    record.steps_done = set(snapshot.get("steps_done") or ()) or None
    return record


# The index's projection (what the planner reads, and the version) and its keys; steps_done travels as a list.
_SNAPSHOT_FIELDS = ("invoice_id", "next_action_date", *(a for a in DUNNING_ATTRIBUTES if a != "steps_done"))
