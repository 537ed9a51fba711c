"""Memory of the local system holding a large ledger, and what keeping it across restarts costs.

Why: `arcollect local` keeps the whole ledger in the emulator's memory (moto holds every item as Python
objects), so its resident size bounds how large a ledger a laptop can try. Saving that state every minute
and restoring it on start must stay quick at that size too.

Setup: `arcollect local --port 0 --json` started as a subprocess in a temporary directory (as a user runs
it); `local_customers` customers with EINs and `local_imported_invoices` open invoices (the
import_throughput generators) imported through `build_importer` against its emulator, the reports checked
so a broken import cannot post a small figure; then those invoice items copied under new ids with
BatchWriteItem until the table holds `local_invoices` (the importer runs at tens of rows per second
against the emulator, too slow to load 100,000 here; the copies are the importer's own items).

Measured: the subprocess's resident set size (psutil) when ready and empty, and after the import;
`local_mb_per_1k_invoices` is the growth per 1,000 invoices (customers included, they are 1% of the
rows). Then the system is stopped (SIGTERM: the data is saved) and started again: the saved file's size,
the save's time (from its `saved` event) and the time from the restart to ready with the data restored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO_ROOT, Figures, ratio

NAME = "local_memory"
DEFAULTS: Mapping[str, float] = {"local_invoices": 100_000, "local_imported_invoices": 2_000, "local_customers": 1_000}
QUICK: Mapping[str, float] = {"local_invoices": 2_000, "local_imported_invoices": 500, "local_customers": 100}

READY_WITHIN_S = 600


class LocalProcess:
    """`arcollect local --json` in `directory`; its JSON events are collected as they are printed."""

    def __init__(self, directory: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARCOLLECT_", "MOTO_"))}
        env["PYTHONUNBUFFERED"] = "1"
        self.began = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "arcollect.cli.app", "local", "--port", "0", "--json"],
            cwd=directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env | {"PYTHONPATH": str(REPO_ROOT)},
        )
        self.events: dict[str, tuple[float, dict[str, Any]]] = {}
        self._arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a handler's log line
            if isinstance(event, dict) and "event" in event:
                with self._arrived:
                    self.events[event["event"]] = (time.perf_counter() - self.began, event)
                    self._arrived.notify_all()

    def wait(self, name: str, timeout: float = READY_WITHIN_S) -> tuple[float, dict[str, Any]]:
        """(seconds from start, event) of the event `name`."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: name in self.events or self.process.poll() is not None, timeout):
                raise TimeoutError(f"arcollect local printed no {name!r} event within {timeout:.0f} s")
        if name not in self.events:
            raise RuntimeError(f"arcollect local exited ({self.process.returncode}) before {name!r}")
        return self.events[name]

    def rss_mb(self) -> float:
        import psutil

        return float(psutil.Process(self.process.pid).memory_info().rss) / 1_000_000

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=600)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def load_ledger(ready: dict[str, Any], customers: int, imported: int, invoices: int, directory: Path) -> None:
    """Import the generated customers and `imported` invoices into the running system (reports checked),
    then copy those invoice items under new ids until there are `invoices`."""
    import boto3

    from arcollect.local.deployment import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY
    from arcollect.local.state import LocalState
    from benchmarks.import_throughput import customers_csv, expect, invoices_csv
    from shared.data.binding import bind_tables
    from shared.ledger.importer import build_importer

    os.environ.update(AWS_ACCESS_KEY_ID=EMULATOR_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=EMULATOR_SECRET_KEY)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    state = LocalState.model_validate({k: v for k, v in ready.items() if k in LocalState.model_fields})
    settings = state.settings()
    bind_tables(settings.table_prefix, settings.region, settings.endpoint_url)
    importer = build_importer(settings)
    for kind, text, count in (
        ("customers", customers_csv(customers), customers),
        ("invoices", invoices_csv(imported, customers), imported),
    ):
        path = directory / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        report = importer.import_file(kind, path.read_bytes(), source=path.name)  # type: ignore[arg-type]
        expect(report, rows=count, created=count)

    dynamodb = boto3.client("dynamodb", endpoint_url=settings.endpoint_url, region_name=settings.region)
    table = f"{settings.table_prefix}invoices"
    originals = [item for page in dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]]
    copies = (
        {**item, "invoice_id": {"S": f"{item['invoice_id']['S']}-copy{n}"}}
        for n in range(1, invoices // max(1, len(originals)) + 2)
        for item in originals
    )
    batch: list[dict[str, Any]] = []
    for _, item in zip(range(invoices - len(originals)), copies, strict=False):
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            _write(dynamodb, table, batch)
            batch = []
    if batch:
        _write(dynamodb, table, batch)
    stored = sum(p["Count"] for p in dynamodb.get_paginator("scan").paginate(TableName=table, Select="COUNT"))
    if stored != invoices:
        raise AssertionError(f"the invoices table holds {stored} items, not {invoices}")


def _write(dynamodb: Any, table: str, batch: list[dict[str, Any]]) -> None:
    unprocessed = dynamodb.batch_write_item(RequestItems={table: batch}).get("UnprocessedItems", {})
    if unprocessed:
        raise AssertionError(f"the emulator left {len(unprocessed.get(table, []))} writes unprocessed")


def run(params: Mapping[str, float]) -> Figures:
    invoices, customers = int(params["local_invoices"]), int(params["local_customers"])
    imported = min(invoices, int(params["local_imported_invoices"]))
    with tempfile.TemporaryDirectory(prefix="arcollect-bench-local-") as tmp:
        directory = Path(tmp)
        local = LocalProcess(directory)
        try:
            _, ready = local.wait("ready")
            empty_mb = local.rss_mb()
            load_ledger(ready, customers, imported, invoices, directory)
            loaded_mb = local.rss_mb()
            local.stop()
            _, saved = local.wait("saved")
        finally:
            local.kill()
        state_mb = (directory / ".arcollect" / "emulator.state").stat().st_size / 1_000_000

        again = LocalProcess(directory)
        try:
            restart_ready_s, _ = again.wait("ready")
            again.wait("restored")
            restored_mb = again.rss_mb()
            again.stop()
        finally:
            again.kill()

    return {
        "local_invoices": invoices,
        "local_rss_mb_empty": empty_mb,
        f"local_rss_mb_{invoices // 1000}k_invoices": loaded_mb,
        "local_mb_per_1k_invoices": ratio((loaded_mb - empty_mb) * 1000, invoices),
        "local_state_file_mb": state_mb,
        "local_save_s": float(saved["seconds"]),
        "local_restart_ready_s": restart_ready_s,
        "local_rss_mb_restored": restored_mb,
    }
