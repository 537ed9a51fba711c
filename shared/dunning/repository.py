"""Data access for the dunning run: the only module of `shared.dunning` that talks to DynamoDB.

`DunningStore` is the port the dispatcher depends on. The one write that makes a message exactly-once is
`claim`: a transaction that creates the customer·channel·day send record only if it does not exist, checks the
customer is the version the run read (its holds unchanged) and moves each listed invoice on only if it is the
version the run planned from (its balance and holds unchanged). Whatever fails tells which part failed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from shared.data.binding import shared_connection
from shared.data.tables import (
    ActivityRecord,
    CustomerRecord,
    DunningBatchRecord,
    DunningRunRecord,
    InvoiceRecord,
    SendRecord,
    TaskRecord,
)

TRANSACTION_ITEMS = 100
BATCH_GET_LIMIT = 100
PENDING_SHARD = "p0"


class AlreadyClaimed(Exception):
    """This customer·channel·day message exists: it was (or is being) sent by another run or attempt."""


class ChangedSinceRead(Exception):
    """The customer or one of the invoices changed since the run read it: read again and re-plan."""

    def __init__(self, invoice_ids: Sequence[str], customer: bool) -> None:
        super().__init__(f"changed since read: customer={customer} invoices={list(invoice_ids)}")
        self.invoice_ids = list(invoice_ids)
        self.customer = customer


@dataclass(frozen=True)
class InvoiceUpdate:
    record: InvoiceRecord  # carries the version the run planned from
    actions: Sequence[Action]


class DunningStore(Protocol):
    def customer(self, customer_id: str) -> CustomerRecord | None: ...
    def invoices(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceRecord]: ...
    def claim(self, send: SendRecord, customer: CustomerRecord, updates: Sequence[InvoiceUpdate]) -> None: ...
    def update_invoice(self, update: InvoiceUpdate) -> bool: ...
    def send(self, send_key: str) -> SendRecord | None: ...
    def save_send(self, send: SendRecord) -> bool: ...
    def put_task(self, task: TaskRecord) -> bool: ...
    def put_activity(self, activity: ActivityRecord) -> None: ...
    def save_customer(self, customer: CustomerRecord) -> bool: ...
    def put_batch(self, batch: DunningBatchRecord) -> None: ...


class DynamoDunningStore:
    def customer(self, customer_id: str) -> CustomerRecord | None:
        try:
            return CustomerRecord.get(customer_id, consistent_read=True)
        except DoesNotExist:
            return None

    def invoices(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceRecord]:
        ids = sorted(set(invoice_ids))
        found: dict[str, InvoiceRecord] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            for record in InvoiceRecord.batch_get(ids[start : start + BATCH_GET_LIMIT], consistent_read=True):
                found[record.invoice_id] = record
        return found

    def claim(self, send: SendRecord, customer: CustomerRecord, updates: Sequence[InvoiceUpdate]) -> None:
        """All or nothing: the claim, the customer unchanged, every invoice moved on. The caller keeps a touch
        within one transaction (claim + customer + 98 invoices)."""
        if len(updates) + 2 > TRANSACTION_ITEMS:
            raise ValueError(f"{len(updates)} invoices exceed one transaction")
        try:
            with TransactWrite(connection=shared_connection()) as tx:
                tx.save(send, condition=SendRecord.send_key.does_not_exist())
                tx.condition_check(
                    CustomerRecord, customer.customer_id, condition=CustomerRecord.version == customer.version
                )
                for update in updates:
                    tx.update(update.record, actions=list(update.actions))
        except TransactWriteError as exc:
            reasons = [_reason_code(r) for r in (exc.cancellation_reasons or [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise AlreadyClaimed(send.send_key) from None
            failed = [u.record.invoice_id for u, code in zip(updates, reasons[2:], strict=False) if code]
            customer_failed = len(reasons) > 1 and reasons[1] is not None
            if failed or customer_failed:
                raise ChangedSinceRead(failed, customer_failed) from None
            raise

    def update_invoice(self, update: InvoiceUpdate) -> bool:
        try:
            update.record.update(actions=list(update.actions))
        except UpdateError as exc:
            if _conditional(exc):
                return False
            raise
        return True

    def send(self, send_key: str) -> SendRecord | None:
        try:
            return SendRecord.get(send_key, consistent_read=True)
        except DoesNotExist:
            return None

    def save_send(self, send: SendRecord) -> bool:
        try:
            send.save()
        except PutError as exc:
            if _conditional(exc):
                return False
            raise
        return True

    def put_task(self, task: TaskRecord) -> bool:
        """A task is created once: its id is deterministic (what, whom, which day)."""
        try:
            task.save(condition=TaskRecord.task_id.does_not_exist())
        except PutError as exc:
            if _conditional(exc):
                return False
            raise
        return True

    def put_activity(self, activity: ActivityRecord) -> None:
        activity.save()

    def save_customer(self, customer: CustomerRecord) -> bool:
        try:
            customer.save()
        except PutError as exc:
            if _conditional(exc):
                return False
            raise
        return True

    def put_batch(self, batch: DunningBatchRecord) -> None:
        batch.save()

    # --- runs -------------------------------------------------------------------------------------------

    def batches(self, run_id: str) -> list[DunningBatchRecord]:
        return list(DunningBatchRecord.query(run_id, consistent_read=True))

    def pending_send_keys(self, older_than: datetime) -> list[str]:
        return [
            r.send_key for r in SendRecord.pending_sends_index.query(PENDING_SHARD, SendRecord.created_at < older_than)
        ]

    def run(self, run_date: str, run_id: str) -> DunningRunRecord | None:
        try:
            return DunningRunRecord.get(run_date, run_id, consistent_read=True)
        except DoesNotExist:
            return None


def _reason_code(reason: Any) -> str | None:
    code = getattr(reason, "code", None) if reason is not None else None
    return None if code in (None, "None") else str(code)


def _conditional(exc: Any) -> bool:
    cause = getattr(exc, "cause", None)
    response = getattr(cause, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
