"""The dunning run's services, composed from the settings: what the handlers (and the local system) call.

Everything with I/O is built here, once per process; the domain modules (planner, dispatch, run) receive it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, cached_property
from typing import Any

from shared.data.tables import DunningRunRecord, InvoiceRecord, SendRecord
from shared.dunning.dispatch import DeliveryError, Dispatcher, NothingToSend, batch_counts, cancel, mark_delivered
from shared.dunning.model import PolicyFile
from shared.dunning.repository import DynamoDunningStore
from shared.dunning.run import PlanResult, RunCounts, RunRequest, plan_run
from shared.dunning.tasks import new_task
from shared.services import Services
from shared.settings import SettingsError

# How long a claim may stay unsent before a run's last step hands it to the retry queue: longer than a dispatch
# Lambda can live (5 minutes), so a claim whose dispatcher is still delivering it is never taken from it.
STUCK_CLAIM_AGE = timedelta(minutes=10)
# Sends are retried by the queue this many times; the last failure becomes a task for a person.
SEND_ATTEMPTS = 3
POLICY_CACHE_SECONDS = 60.0


class IndexDue:
    """The sparse next-action index: what is due in one shard."""

    def due(self, shard: str, cutoff: str) -> Iterable[InvoiceRecord]:
        return InvoiceRecord.next_action_index.query(shard, InvoiceRecord.next_action_date <= cutoff)


class S3Manifests:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")


class RunTable:
    def started(self, request: RunRequest, counts: Any) -> None:
        DunningRunRecord(
            request.run_date,
            request.run_id,
            status="running",
            counts={"planned": dict(counts), "as_of": request.as_of.isoformat() if request.as_of else None},
            started_at=request.instant,
        ).save()


class SqsRetryQueue:
    def __init__(self, sqs: Any, url: str | None) -> None:
        self.sqs = sqs
        self.url = url

    def enqueue(self, send_key: str) -> None:
        if not self.url:
            raise SettingsError("ARCOLLECT_SEND_RETRY_QUEUE_URL is not set: failed sends cannot be retried")
        self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps({"send_key": send_key}))


class CachedPolicies:
    """The active policy file, read at most once a minute per process (a run reads it once per batch)."""

    def __init__(self, load: Callable[[], PolicyFile | None], seconds: float = POLICY_CACHE_SECONDS) -> None:
        self._load = load
        self._seconds = seconds
        self._value: PolicyFile | None = None
        self._at = -1e9

    def __call__(self) -> PolicyFile | None:
        if time.monotonic() - self._at > self._seconds:
            self._value = self._load()
            self._at = time.monotonic()
        return self._value


def _active_policy_file() -> PolicyFile | None:
    from shared.dunning.policy_store import PolicyStore

    active = PolicyStore().active()
    return active[1] if active is not None else None


@dataclass
class DunningServices(Services):
    @cached_property
    def store(self) -> DynamoDunningStore:
        return DynamoDunningStore()

    @cached_property
    def retry_queue(self) -> SqsRetryQueue:
        return SqsRetryQueue(self.client("sqs"), self.settings.send_retry_queue_url)

    @cached_property
    def policies(self) -> CachedPolicies:
        return CachedPolicies(_active_policy_file)

    @cached_property
    def deliverer(self) -> Any:
        from shared.dunning.delivery import build_deliverer

        return build_deliverer(self.settings, self.client, self.store)

    @cached_property
    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.store, self.deliverer, self.retry_queue, self.policies, self.clock)

    def documents_bucket(self) -> str:
        if not self.settings.documents_bucket:
            raise SettingsError("ARCOLLECT_DOCUMENTS_BUCKET is not set: the run cannot write its manifest")
        return self.settings.documents_bucket

    # --- the three steps of a run ---------------------------------------------------------------------

    def plan(self, request: RunRequest) -> PlanResult:
        return plan_run(request, IndexDue(), S3Manifests(self.client("s3"), self.documents_bucket()), RunTable())

    def dispatch(self, request: RunRequest, batch: dict[str, Any]) -> RunCounts:
        return self.dispatcher.dispatch_batch(request, batch)

    def finish(self, request: RunRequest, error: Any = None) -> dict[str, Any]:
        """Adds the batches up, hands every claim left unsent to the retry queue, closes the run."""
        counts = batch_counts(self.store.batches(request.run_id))
        stuck = self.store.pending_send_keys(older_than=self.clock() - STUCK_CLAIM_AGE)
        for key in stuck:
            self.retry_queue.enqueue(key)
        record = self.store.run(request.run_date, request.run_id)
        status = "failed" if error else "succeeded"
        summary = counts.to_json() | {"retrying": len(stuck)}
        if error:
            summary["error"] = _error_name(error)
        if record is not None:
            record.status = status
            record.counts = (record.counts or {}) | {"result": summary}
            record.finished_at = self.clock()
            record.save()
        return {"run_id": request.run_id, "status": status, "counts": summary}

    # --- retries --------------------------------------------------------------------------------------

    def retry(self, send_key: str, receive_count: int) -> str:
        """One more attempt at a claimed message. Returns what happened: sent, task, gone, busy."""
        send = self.store.send(send_key)
        if send is None or send.status in ("sent", "task", "cancelled"):
            return "gone"
        customer = self.store.customer(send.customer_id)
        if customer is None:
            return "gone"
        open_ids = [i for i, r in self.store.invoices(send.invoice_ids).items() if r.status == "open"]
        if not open_ids:  # paid meanwhile: never remind what is paid
            send.status = "cancelled"
            send.pending_shard = None
            self.store.save_send(send)
            return "gone"
        send.status = "sending"
        if not self.store.save_send(send):  # another attempt holds it
            return "busy"
        try:
            message_id = self.deliverer.deliver(send, customer, self.clock())
        except NothingToSend:
            cancel(send, self.store)
            return "gone"
        except DeliveryError as exc:
            send.error = str(exc)[:500]
            send.attempts = int(send.attempts or 0) + 1
            if receive_count >= SEND_ATTEMPTS:
                self._give_up(send)
                return "task"
            send.status = "failed"
            self.store.save_send(send)
            raise
        mark_delivered(send, message_id, self.store, self.clock())
        return "sent"

    def _give_up(self, send: SendRecord) -> None:
        now = self.clock()
        self.store.put_task(
            new_task(
                f"send_failed#{send.send_key}",
                customer_id=send.customer_id,
                kind="send_failed",
                invoice_ids=list(send.invoice_ids),
                due=(send.local_date or now.date().isoformat()),
                reason=f"the {send.channel} reminder could not be sent after {SEND_ATTEMPTS} attempts: "
                f"{send.error or 'unknown error'}",
                now=now,
            )
        )
        send.status = "task"
        send.pending_shard = None
        self.store.save_send(send)


@cache
def services_from_environment() -> DunningServices:
    """This process's dunning services (a Lambda container's): settings read and tables bound once."""
    from shared.data.binding import bind_tables
    from shared.settings import runtime_settings

    settings = runtime_settings()
    bind_tables(settings.table_prefix, settings.region, settings.endpoint_url)
    return DunningServices(settings)


def _error_name(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("Error") or error.get("error") or "error")[:200]
    return str(error)[:200]
