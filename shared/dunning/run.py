"""A dunning run's first and last steps: plan (read what is due, group it by customer, write the batch
manifest the Distributed Map reads) and finish (add the batches up, hand unsent claims to the retry queue).

The plan reads the sparse, sharded next-action index and nothing else: one item per due invoice. Each due
invoice travels in the manifest as the index projected it (version included), so the batch that handles its
customer plans from it and writes back only if the invoice is still that version."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from shared.data.tables import NEXT_ACTION_SHARDS
from shared.dunning.state import due_cutoff_at, due_cutoff_for_day, snapshot_of
from shared.errors import ValidationError

# Customers per manifest item: one Lambda invocation handles a batch; small enough to finish well inside its
# timeout with every message rendered and sent, large enough that a million invoices are a few thousand items.
CUSTOMERS_PER_BATCH = 25
SHARDS = tuple(f"s{n:02d}" for n in range(NEXT_ACTION_SHARDS))


@dataclass(frozen=True)
class RunRequest:
    """What one run covers. `as_of` set: all of that day (every customer's window on it; sends stamped inside
    it). None: the hourly run, what became sendable up to `instant`."""

    run_id: str
    instant: datetime
    as_of: date | None
    trigger: str = "schedule"

    @property
    def cutoff(self) -> str:
        return due_cutoff_for_day(self.as_of) if self.as_of is not None else due_cutoff_at(self.instant)

    @property
    def run_date(self) -> str:
        return (self.as_of or self.instant.date()).isoformat()

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "instant": self.instant.astimezone(UTC).isoformat(),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "trigger": self.trigger,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RunRequest:
        return cls(
            run_id=str(value["run_id"]),
            instant=datetime.fromisoformat(str(value["instant"])),
            as_of=date.fromisoformat(value["as_of"]) if value.get("as_of") else None,
            trigger=str(value.get("trigger") or "schedule"),
        )


def run_request(run_input: Mapping[str, Any], run_id: str, now: datetime) -> RunRequest:
    """The state machine's input (`{"as_of": "YYYY-MM-DD"}` from the CLI, `{"trigger": "schedule"}` from the
    scheduler) with the execution's name as the run id. `now` is the system's time (its `--today` included)."""
    as_of_text = run_input.get("as_of")
    as_of = None
    if as_of_text:
        try:
            as_of = date.fromisoformat(str(as_of_text))
        except ValueError:
            raise ValidationError(f"as_of must be a date (YYYY-MM-DD), not {str(as_of_text)[:20]!r}") from None
    return RunRequest(run_id=run_id, instant=now, as_of=as_of, trigger=str(run_input.get("trigger") or "cli"))


class DueIndex(Protocol):
    def due(self, shard: str, cutoff: str) -> Iterable[Any]: ...


class ManifestStore(Protocol):
    bucket: str

    def put(self, key: str, body: bytes) -> None: ...


class RunLog(Protocol):
    def started(self, request: RunRequest, counts: Mapping[str, Any]) -> None: ...


@dataclass
class PlanResult:
    run: dict[str, Any]
    manifest_bucket: str
    manifest_key: str
    batches: int
    due_invoices: int
    customers: int

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "manifest_bucket": self.manifest_bucket,
            "manifest_key": self.manifest_key,
            "batches": self.batches,
            "due_invoices": self.due_invoices,
            "customers": self.customers,
        }


def due_by_customer(index: DueIndex, cutoff: str) -> dict[str, list[dict[str, Any]]]:
    """Every due invoice, as the index projected it, grouped by customer (customers and invoices sorted, so a
    re-planned day makes the same batches)."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for shard in SHARDS:
        for record in index.due(shard, cutoff):
            grouped[record.customer_id].append(snapshot_of(record))
    return {customer: sorted(items, key=lambda i: i["invoice_id"]) for customer, items in sorted(grouped.items())}


def batches_of(
    grouped: Mapping[str, list[dict[str, Any]]], size: int = CUSTOMERS_PER_BATCH
) -> Iterator[dict[str, Any]]:
    customers = list(grouped.items())
    for number, start in enumerate(range(0, len(customers), size)):
        yield {
            "batch_id": f"b{number:05d}",
            "customers": [{"customer_id": c, "invoices": invoices} for c, invoices in customers[start : start + size]],
        }


def plan_run(request: RunRequest, index: DueIndex, manifests: ManifestStore, log: RunLog) -> PlanResult:
    grouped = due_by_customer(index, request.cutoff)
    batches = list(batches_of(grouped))
    key = f"runs/{request.run_date}/{request.run_id}/manifest.json"
    manifests.put(key, json.dumps(batches, separators=(",", ":")).encode())
    due = sum(len(items) for items in grouped.values())
    log.started(request, {"due_invoices": due, "customers": len(grouped), "batches": len(batches)})
    return PlanResult(
        run=request.to_json(),
        manifest_bucket=manifests.bucket,
        manifest_key=key,
        batches=len(batches),
        due_invoices=due,
        customers=len(grouped),
    )


# --- results ---------------------------------------------------------------------------------------------


@dataclass
class RunCounts:
    """What a batch, or a whole run, did. `sent` and `tasks` count messages and tasks per channel/kind,
    `touched` counts invoice touches, `skipped` counts invoices per reason."""

    sent: Counter[str] = field(default_factory=Counter)
    tasks: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    touched: int = 0
    failed: int = 0
    customers: int = 0

    def add(self, other: RunCounts) -> None:
        self.sent.update(other.sent)
        self.tasks.update(other.tasks)
        self.skipped.update(other.skipped)
        self.touched += other.touched
        self.failed += other.failed
        self.customers += other.customers

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": dict(sorted(self.sent.items())),
            "tasks": dict(sorted(self.tasks.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "touched": self.touched,
            "failed": self.failed,
            "customers": self.customers,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RunCounts:
        return cls(
            sent=Counter(value.get("sent") or {}),
            tasks=Counter(value.get("tasks") or {}),
            skipped=Counter(value.get("skipped") or {}),
            touched=int(value.get("touched") or 0),
            failed=int(value.get("failed") or 0),
            customers=int(value.get("customers") or 0),
        )
