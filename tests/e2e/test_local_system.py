"""`arcollect local` as a user runs it: started from the real command line, reached over HTTP, found by
the other commands through .arcollect/local.json, stopped with SIGTERM or Ctrl-C, and started again on the
data it kept in .arcollect/ (or empty, with --fresh)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

HEALTHY_WITHIN = 60  # seconds, on a fresh machine: this is how a new user first meets the product
DEMO_LOADED_WITHIN = 240
DEMO_CUSTOMERS = {f"CUST-{n:04d}" for n in range(1, 51)}
CUSTOMERS_CSV = (
    "customer_id,legal_name,tin_type,tin,country\n"
    "KEEP-1,Kept Holdings Inc,ein,12-3456789,US\n"
    "KEEP-2,Second Kept LLC,ein,98-7654321,US\n"
)

Start = Callable[..., Any]  # the `start_local` fixture: (*args) -> LocalProcess
Run = Callable[..., subprocess.CompletedProcess[str]]


def customer_ids(local: Any) -> set[str]:
    listed = local.run("customers", "list", "--limit", "1000", "--json")
    assert listed.returncode == 0, listed.stderr
    return {customer["customer_id"] for customer in json.loads(listed.stdout)["customers"]}


def import_customers(local: Any, path: Path) -> dict[str, Any]:
    imported = local.run("import", "customers", str(path), "--json")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    report: dict[str, Any] = json.loads(imported.stdout)
    return report


def test_local_with_the_demo_ledger_is_ready_only_once_loaded_and_keeps_it_across_a_restart(
    start_local: Start,
) -> None:
    began = time.monotonic()
    local = start_local("--demo", "--today", "2026-11-22")

    local.wait_answering(HEALTHY_WITHIN)
    answering_after = time.monotonic() - began
    state = local.wait_ready(DEMO_LOADED_WITHIN)
    ready_after = time.monotonic() - began
    # Until the demo ledger was in and local.json written, /health said so; then the API's own answer.
    *starting, ready = local.health_answers
    assert all(answer == (503, b'{"status":"starting"}') for answer in starting), starting
    assert ready == (200, b'{"status":"ok"}')

    assert state["api_url"] == local.url
    assert state["endpoint_url"].startswith("http://127.0.0.1:")
    assert (state["region"], state["stage"], state["table_prefix"]) == ("us-east-1", "local", "arcollect-local-")
    assert state["tin_key_id"] == "alias/arcollect-local-tin"
    assert state["tin_mac_key_id"] == "alias/arcollect-local-tin-mac"
    assert state["ingest_bucket"] == "arcollect-local-ingest"
    assert state["pid"] == local.process.pid
    assert state["today"] == "2026-11-22" and state["started_at"]

    status, page = local.get("/")
    assert status == 200 and b'src="/app.js"' in page  # the customer portal page
    status, sent = local.get("/_local/outbox")
    assert (status, json.loads(sent)) == (200, [])  # importing a ledger sends nothing

    outbox = local.run("outbox", "--json")
    assert (outbox.returncode, json.loads(outbox.stdout)) == (0, []), outbox.stderr
    assert customer_ids(local) == DEMO_CUSTOMERS

    printed = local.output()
    for url in (local.url, f"{local.url}/_local/outbox", state["endpoint_url"]):
        assert url in printed
    # A new user is one click away from the portal: the printed sign-in link opens a session.
    sign_in = re.search(re.escape(local.url) + r"/\?link=([A-Za-z0-9_.-]+)", printed)
    assert sign_in is not None, printed
    exchange = urllib.request.Request(
        f"{local.url}/portal/session",
        data=json.dumps({"link_token": sign_in.group(1)}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(exchange, timeout=30) as answer:
        assert answer.status == 200

    assert local.stop() == 0, local.output()
    assert not local.state_file.exists()
    assert "Saved the data" in local.output()

    again = start_local("--demo", "--today", "2026-11-22")
    again.wait_ready(DEMO_LOADED_WITHIN)
    assert "Kept the existing data" in again.output() and "Demo ledger loaded" not in again.output()
    assert customer_ids(again) == DEMO_CUSTOMERS
    assert again.stop() == 0, again.output()
    print(f"--demo: answering after {answering_after:.1f} s, ready (demo loaded) after {ready_after:.1f} s")


def test_local_without_the_demo_is_ready_quickly_and_ctrl_c_stops_it(start_local: Start) -> None:
    began = time.monotonic()
    local = start_local()
    state = local.wait_ready(HEALTHY_WITHIN)
    healthy_after = time.monotonic() - began
    assert state["today"] is None  # no --today: the clock's date

    local.process.send_signal(signal.SIGINT)
    assert local.process.wait(timeout=30) == 0, local.output()
    assert not local.state_file.exists()
    print(f"no demo: healthy after {healthy_after:.1f} s")


def test_outbox_needs_a_running_system_and_a_second_one_is_refused(start_local: Start, arcollect: Run) -> None:
    nothing_running = arcollect("outbox")
    assert nothing_running.returncode == 1
    assert "no local system is running" in nothing_running.stderr

    local = start_local()
    local.wait_ready(HEALTHY_WITHIN)
    second = arcollect("local", "--port", "0")
    assert second.returncode == 1 and "already running" in second.stderr

    local.process.send_signal(signal.SIGTERM)
    assert local.process.wait(timeout=30) == 0


def test_a_restart_keeps_the_data_and_its_keys_and_fresh_starts_empty(start_local: Start, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS_CSV, encoding="utf-8")
    local = start_local()
    local.wait_ready(HEALTHY_WITHIN)
    assert import_customers(local, customers)["created"] == 2
    assert local.stop() == 0, local.output()

    again = start_local()
    again.wait_ready(HEALTHY_WITHIN)
    assert "Restored the data saved at" in again.output()
    assert customer_ids(again) == {"KEEP-1", "KEEP-2"}
    # The TINs' fingerprints still match: the KMS keys came back, not new ones.
    assert import_customers(again, customers)["unchanged"] == 2
    assert again.stop(signal.SIGINT) == 0, again.output()

    fresh = start_local("--fresh")
    fresh.wait_ready(HEALTHY_WITHIN)
    assert "--fresh: discarded the data saved by earlier runs" in fresh.output()
    assert customer_ids(fresh) == set()
    assert fresh.stop() == 0, fresh.output()


def test_a_saved_state_it_cannot_use_is_refused_with_the_way_out(arcollect: Run, tmp_path: Path) -> None:
    (tmp_path / ".arcollect").mkdir()
    (tmp_path / ".arcollect" / "emulator.state").write_bytes(b"arcollect-local-state {not json\n")

    refused = arcollect("local", "--port", "0")

    assert refused.returncode == 1
    assert "damaged" in refused.stderr and "arcollect local --fresh" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
