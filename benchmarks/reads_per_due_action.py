"""Index reads per due invoice: how many items the daily dunning run's first step reads to find the invoices
due a touch (`index_reads_per_due_invoice`; the whole run's `reads_per_due_action` is benchmarks/dunning_run.py's).

Why: the run reads the ledger every day. The sparse, sharded `next_action_index` exists so that asking
each shard for `next_action_date <= as_of` reads only what is due: the goal is at most 1.1 items read per
due invoice (1.0 is the floor), where a Scan with a filter reads the whole table (~100 at 1% due).

Setup (timed for information only): `open_invoices` open invoices carrying the index attributes, a
`due_fraction` of them dated on or before the as-of date and the rest after it, plus `paid_invoices`
paid ones without the attributes, batch-written through PynamoDB into a moto server.

Measured: the dunning run's query, one per shard through PynamoDB, `query_repeats` times. Items read is
the sum of the responses' ScannedCount (what DynamoDB evaluates and bills, before any filter), not the
items returned; the query must return exactly the due invoices or the benchmark fails. The scan figure
is the table's item count ÷ due, what any Scan reads. Query time against moto grows with the whole
table (moto walks every item per query), so `due_action_query_s` says nothing about DynamoDB's latency.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from benchmarks.emulator import BenchEmulator, running_emulator
from benchmarks.harness import Figures, median, ratio
from shared.data.tables import NEXT_ACTION_SHARDS, InvoiceRecord, shard_of

NAME = "reads_per_due_action"
DEFAULTS: Mapping[str, float] = {
    "open_invoices": 100_000,
    "paid_invoices": 10_000,
    "due_fraction": 0.01,
    "query_repeats": 3,
}
QUICK: Mapping[str, float] = {"open_invoices": 5_000, "paid_invoices": 500, "query_repeats": 2}

AS_OF = date(2026, 3, 2)
CUSTOMERS = 1_000
# The shard names the dunning run walks; `shard_of` must only ever produce these.
SHARDS = [f"s{n:02d}" for n in range(NEXT_ACTION_SHARDS)]


def make_invoice(rng: random.Random, number: int, next_action: date | None, now: datetime) -> InvoiceRecord:
    """An open invoice whose next touch is `next_action`, or a paid one (None) outside the index."""
    invoice_id = f"INV-{number:07d}"
    issue = (next_action or AS_OF) - timedelta(days=14 + rng.randint(0, 60))
    amount = rng.randint(5_000, 2_000_000)
    record = InvoiceRecord(
        invoice_id,
        customer_id=f"CUST-{rng.randrange(CUSTOMERS):05d}",
        number=str(number),
        issue_date=issue.isoformat(),
        due_date=(issue + timedelta(days=30)).isoformat(),
        currency="USD",
        amount_minor=amount,
        balance_minor=amount if next_action else 0,
        status="open" if next_action else "paid",
        created_at=now,
        updated_at=now,
    )
    if next_action is None:
        record.paid_on = (issue + timedelta(days=20)).isoformat()
    else:
        record.next_action_shard = shard_of(invoice_id, NEXT_ACTION_SHARDS)
        record.next_action_date = next_action.isoformat()
    return record


def write_ledger(open_invoices: int, paid_invoices: int, due_fraction: float) -> int:
    """Batch-writes the ledger; returns how many open invoices are due on AS_OF."""
    rng = random.Random(20260302)
    due = set(rng.sample(range(open_invoices), round(open_invoices * due_fraction)))
    now = datetime.now(UTC)
    with InvoiceRecord.batch_write() as batch:
        for n in range(open_invoices):
            offset = -rng.randint(0, 30) if n in due else rng.randint(1, 60)
            record = make_invoice(rng, n, AS_OF + timedelta(days=offset), now)
            assert record.next_action_shard in SHARDS
            batch.save(record)
        for n in range(open_invoices, open_invoices + paid_invoices):
            batch.save(make_invoice(rng, n, None, now))
    return len(due)


def due_action_pass(as_of: str) -> tuple[int, int]:
    """The dunning run's read: every shard, `next_action_date <= as_of`. Returns (items returned, items read)."""
    returned = read = 0
    for shard in SHARDS:
        results = InvoiceRecord.next_action_index.query(shard, InvoiceRecord.next_action_date <= as_of)
        for record in results:
            assert record.next_action_date is not None and record.next_action_date <= as_of
            returned += 1
        read += results.page_iter.total_scanned_count
    return returned, read


def run(params: Mapping[str, float]) -> Figures:
    with running_emulator() as emulator:
        return _measure(emulator, params)


def _measure(emulator: BenchEmulator, params: Mapping[str, float]) -> Figures:
    open_invoices, paid_invoices = int(params["open_invoices"]), int(params["paid_invoices"])
    started = time.perf_counter()
    due = write_ledger(open_invoices, paid_invoices, float(params["due_fraction"]))
    setup_s = time.perf_counter() - started
    table = emulator.client("dynamodb").describe_table(TableName=f"{emulator.table_prefix}invoices")["Table"]
    ledger_items = int(table["ItemCount"])
    if ledger_items != open_invoices + paid_invoices:
        raise AssertionError(f"the table holds {ledger_items} items, {open_invoices + paid_invoices} were written")

    timings, reads, query_requests = [], set(), set()
    for _ in range(int(params["query_repeats"])):
        emulator.counts.reset()
        started = time.perf_counter()
        returned, read = due_action_pass(AS_OF.isoformat())
        timings.append(time.perf_counter() - started)
        if returned != due:
            raise AssertionError(f"the due-action query returned {returned} invoices, {due} are due")
        reads.add(read)
        query_requests.add(emulator.counts.requests["Query"])
    if len(reads) != 1:
        raise AssertionError(f"repeated passes read different item counts: {sorted(reads)}")
    items_read = reads.pop()
    return {
        "index_reads_per_due_invoice": ratio(items_read, due),
        "scan_reads_per_due_action": ratio(ledger_items, due),
        "due_actions": due,
        "due_action_items_read": items_read,
        "due_action_query_requests": max(query_requests),
        "due_action_ledger_items": ledger_items,
        "due_action_setup_s": setup_s,
        "due_action_query_s": median(timings),
    }
