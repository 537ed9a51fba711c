"""What a signed-in customer can do to its account: leave a note, dispute an invoice, promise to pay it, ask to pay.

Each change is one DynamoDB transaction: the invoice (conditioned on the version read, so a concurrent change — a
payment landing, a dunning run claiming a touch — is never overwritten), the activity on the timeline and, for a
dispute, the collector's task. Because the dunning run claims a touch with the same version condition, a dispute or
a promise stored here stops any reminder the run has not yet claimed: it is in the dunning state at once.
A dispute pauses dunning for that invoice until staff resolve it; a promise until its date plus the policy's grace
(PRODUCT.md 1.3 rule 5)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from shared.data.binding import shared_connection
from shared.data.tables import NEXT_ACTION_SHARDS, ActivityRecord, CustomerRecord, InvoiceRecord, shard_of
from shared.dunning.tasks import new_task
from shared.errors import ConflictError, NotImplementedYet, ValidationError
from shared.money import format_money, to_minor
from shared.portal.account import invoice_of, money, today_for
from shared.portal.models import (
    DisputeOpened,
    DisputeReason,
    PromiseMade,
)

PROMISE_HORIZON_DAYS = 60
DEFAULT_PROMISE_GRACE_DAYS = 3
WRITE_ATTEMPTS = 3
SUMMARY_PREFIX = 80

REASON_NAMES = {
    DisputeReason.wrong_amount: "the amount is wrong",
    DisputeReason.not_received: "goods or services not received",
    DisputeReason.damaged_or_defective: "damaged or defective",
    DisputeReason.duplicate: "a duplicate invoice",
    DisputeReason.already_paid: "already paid",
    DisputeReason.credit_due: "a credit is due",
    DisputeReason.other: "another reason",
}


@dataclass(frozen=True)
class Actor:
    """Who acts: the customer through the portal (with its session), or staff."""

    customer_id: str
    name: str = "customer"


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(9)}"


def _activity(
    customer_id: str,
    now: datetime,
    kind: str,
    ident: str,
    invoice_ids: list[str],
    summary: str,
    details: dict[str, Any],
) -> ActivityRecord:
    stamp = now.astimezone(UTC)
    return ActivityRecord(
        customer_id,
        f"{stamp.isoformat()}#{kind}#{ident}",
        kind=kind,
        invoice_ids=invoice_ids,
        summary=summary,
        details=details,
        actor="customer",
        occurred_at=stamp,
    )


def _label(record: InvoiceRecord) -> str:
    return f"invoice {record.number or record.invoice_id}"


def parse_amount_for(text: str | None, record: InvoiceRecord) -> int | None:
    """An optional amount in the invoice's currency: more than zero and at most its balance."""
    if text is None:
        return None
    try:
        minor = to_minor(Decimal(text), record.currency)
    except (InvalidOperation, ValueError, ValidationError) as exc:
        message = exc.message if isinstance(exc, ValidationError) else "not a decimal amount"
        raise ValidationError(f"amount: {message}") from None
    if minor <= 0:
        raise ValidationError("amount: must be more than zero")
    if minor > int(record.balance_minor):
        raise ValidationError(
            f"amount: more than the balance of {format_money(int(record.balance_minor), record.currency)}"
        )
    return minor


def _write(attempt: Callable[[], Any]) -> Any:
    """Run a read-check-write `attempt` again when the invoice changed between its read and its write."""
    for tries in range(WRITE_ATTEMPTS):
        try:
            return attempt()
        except TransactWriteError as exc:
            reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or [])]
            if "ConditionalCheckFailed" not in reasons or tries == WRITE_ATTEMPTS - 1:
                if "ConditionalCheckFailed" in reasons:
                    raise ConflictError("The invoice changed while this was saved; try again.") from None
                raise
    raise AssertionError("unreachable")


def _open(record: InvoiceRecord, what: str) -> None:
    if int(record.balance_minor) <= 0:
        raise ConflictError(f"{_label(record).capitalize()} is paid: there is nothing to {what}.")


# --- notes -----------------------------------------------------------------------------------------------


def add_note(actor: Actor, invoice_id: str, text: str, now: datetime) -> ActivityRecord:
    record = invoice_of(actor.customer_id, invoice_id)
    prefix = text if len(text) <= SUMMARY_PREFIX else text[: SUMMARY_PREFIX - 1] + "…"
    activity = _activity(
        actor.customer_id,
        now,
        "note",
        _new_id("n"),
        [invoice_id],
        f"Note on {_label(record)}: {prefix}",
        {"text": text},
    )
    activity.save(condition=ActivityRecord.activity_key.does_not_exist())
    return activity


# --- disputes --------------------------------------------------------------------------------------------


def open_dispute(
    actor: Actor, invoice_id: str, reason: DisputeReason, amount: str | None, text: str | None, now: datetime
) -> DisputeOpened:
    def attempt() -> DisputeOpened:
        record = invoice_of(actor.customer_id, invoice_id)
        _open(record, "dispute")
        if record.dispute_id:
            raise ConflictError(f"{_label(record).capitalize()} is already disputed.")
        amount_minor = parse_amount_for(amount, record)
        customer = CustomerRecord.get(actor.customer_id, consistent_read=True)
        day = today_for(customer, now)
        dispute_id = _new_id("d")
        task_id = f"dispute#{dispute_id}"
        disputed = (
            format_money(amount_minor, record.currency)
            if amount_minor is not None
            else f"all of {format_money(int(record.balance_minor), record.currency)}"
        )
        summary = f"Dispute on {_label(record)}: {REASON_NAMES[reason]} ({disputed})"
        details = {"dispute_id": dispute_id, "reason": reason.value, "amount_minor": amount_minor, "text": text}
        with TransactWrite(connection=shared_connection()) as tx:
            tx.update(
                record,
                actions=[
                    InvoiceRecord.dispute_id.set(dispute_id),
                    InvoiceRecord.dispute.set(
                        {"reason": reason.value, "amount_minor": amount_minor, "opened_on": day.isoformat()}
                    ),
                    InvoiceRecord.updated_at.set(now),
                ],
            )
            tx.save(_activity(actor.customer_id, now, "dispute", dispute_id, [invoice_id], summary, details))
            tx.save(
                new_task(
                    task_id,
                    customer_id=actor.customer_id,
                    kind="dispute",
                    invoice_ids=[invoice_id],
                    due=day.isoformat(),
                    reason=f"{customer.legal_name or actor.customer_id} disputes {_label(record)}: "
                    f"{REASON_NAMES[reason]} ({disputed}). Dunning is paused until it is resolved.",
                    now=now,
                )
            )
        return DisputeOpened(
            dispute_id=dispute_id,
            invoice_id=invoice_id,
            reason=reason.value,
            amount=money(amount_minor, record.currency) if amount_minor is not None else None,
            text=text,
            opened_on=day,
            task_id=task_id,
        )

    result: DisputeOpened = _write(attempt)
    return result


# --- promises --------------------------------------------------------------------------------------------


def promise_grace_days(customer: CustomerRecord, record: InvoiceRecord) -> int:
    """The grace the invoice's policy gives a promise (the default when no policy is active)."""
    from shared.dunning.policy import resolve_policy
    from shared.dunning.policy_store import PolicyStore
    from shared.dunning.state import customer_state, invoice_state

    active = PolicyStore().active()
    if active is None:
        return DEFAULT_PROMISE_GRACE_DAYS
    policy = resolve_policy(active[1], customer_state(customer), invoice_state(record)).policy
    return policy.promise_grace_days if policy is not None else DEFAULT_PROMISE_GRACE_DAYS


def make_promise(actor: Actor, invoice_id: str, when: date, amount: str | None, now: datetime) -> PromiseMade:
    def attempt() -> PromiseMade:
        record = invoice_of(actor.customer_id, invoice_id)
        _open(record, "promise")
        customer = CustomerRecord.get(actor.customer_id, consistent_read=True)
        today = today_for(customer, now)
        latest = today + timedelta(days=PROMISE_HORIZON_DAYS)
        if not today <= when <= latest:
            raise ValidationError(
                f"date: a promise must be between today ({today.isoformat()}) and {latest.isoformat()} "
                f"({PROMISE_HORIZON_DAYS} days ahead)"
            )
        amount_minor = parse_amount_for(amount, record)
        resumes_on = when + timedelta(days=promise_grace_days(customer, record) + 1)
        promise_id = _new_id("p")
        promised = format_money(amount_minor, record.currency) if amount_minor is not None else "the balance"
        summary = f"Promise to pay {promised} of {_label(record)} by {when.isoformat()}"
        details = {"promise_id": promise_id, "date": when.isoformat(), "amount_minor": amount_minor}
        actions: list[Action] = [
            InvoiceRecord.promise_date.set(when.isoformat()),
            InvoiceRecord.promise.set(
                {"promise_id": promise_id, "amount_minor": amount_minor, "made_on": today.isoformat()}
            ),
            InvoiceRecord.updated_at.set(now),
        ]
        if record.next_action_date is not None:
            # The run need not look before dunning may resume (a bare date: the planner places it in the window).
            actions.append(InvoiceRecord.next_action_date.set(resumes_on.isoformat()))
            actions.append(InvoiceRecord.next_action_shard.set(shard_of(record.invoice_id, NEXT_ACTION_SHARDS)))
        with TransactWrite(connection=shared_connection()) as tx:
            tx.update(record, actions=actions)
            tx.save(_activity(actor.customer_id, now, "promise", promise_id, [invoice_id], summary, details))
        return PromiseMade(
            promise_id=promise_id,
            invoice_id=invoice_id,
            date=when,
            amount=money(amount_minor, record.currency) if amount_minor is not None else None,
            made_on=today,
            dunning_resumes_on=resumes_on,
        )

    result: PromiseMade = _write(attempt)
    return result


# --- payments --------------------------------------------------------------------------------------------


def check_payment_request(actor: Actor, invoice_ids: list[str]) -> None:
    """Everything a payment needs from the ledger: the customer's own, open invoices in one currency. Taking
    the payment itself (Stripe Checkout) comes with issue 9: until then, NotImplementedYet."""
    if len(set(invoice_ids)) != len(invoice_ids):
        raise ValidationError("invoice_ids: each invoice once")
    records = [invoice_of(actor.customer_id, invoice_id) for invoice_id in invoice_ids]
    for record in records:
        _open(record, "pay")
    currencies = sorted({r.currency for r in records})
    if len(currencies) > 1:
        raise ValidationError(f"invoice_ids: one payment is in one currency; these are in {', '.join(currencies)}")
    raise NotImplementedYet("Online payment is not available yet: pay by your usual method, or try again later.")
