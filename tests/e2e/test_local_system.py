"""`arcollect local` as a user runs it: started from the real command line, reached over HTTP, found by
the other commands through .arcollect/local.json, and stopped with SIGTERM or Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

HEALTHY_WITHIN = 60  # seconds, on a fresh machine: this is how a new user first meets the product
DEMO_LOADED_WITHIN = 240

Start = Callable[..., Any]  # the `start_local` fixture: (*args) -> LocalProcess
Run = Callable[..., subprocess.CompletedProcess[str]]


def test_local_with_the_demo_ledger_serves_publishes_its_state_and_stops_cleanly(start_local: Start) -> None:
    began = time.monotonic()
    local = start_local("--demo", "--today", "2026-11-22")

    assert local.wait_healthy(HEALTHY_WITHIN) == (200, b'{"status":"ok"}'), local.output()
    healthy_after = time.monotonic() - began
    state = local.wait_ready(DEMO_LOADED_WITHIN)
    ready_after = time.monotonic() - began

    assert state["api_url"] == local.url
    assert state["endpoint_url"].startswith("http://127.0.0.1:")
    assert (state["region"], state["stage"], state["table_prefix"]) == ("us-east-1", "local", "arcollect-local-")
    assert state["tin_key_id"] == "alias/arcollect-local-tin"
    assert state["tin_mac_key_id"] == "alias/arcollect-local-tin-mac"
    assert state["ingest_bucket"] == "arcollect-local-ingest"
    assert state["pid"] == local.process.pid
    assert state["today"] == "2026-11-22" and state["started_at"]

    status, page = local.get("/")
    assert status == 200 and b'href="/health"' in page
    status, sent = local.get("/_local/outbox")
    assert (status, json.loads(sent)) == (200, [])  # importing a ledger sends nothing

    outbox = local.run("outbox", "--json")
    assert (outbox.returncode, json.loads(outbox.stdout)) == (0, []), outbox.stderr
    customers = local.run("customers", "list", "--json")
    assert customers.returncode == 0, customers.stderr
    assert len(json.loads(customers.stdout)) == 50

    printed = local.output()
    for url in (local.url, f"{local.url}/_local/outbox", state["endpoint_url"]):
        assert url in printed

    local.process.send_signal(signal.SIGTERM)
    assert local.process.wait(timeout=30) == 0, local.output()
    assert not local.state_file.exists()
    print(f"--demo: healthy after {healthy_after:.1f} s, ready (demo loaded) after {ready_after:.1f} s")


def test_local_without_the_demo_is_ready_quickly_and_ctrl_c_stops_it(start_local: Start) -> None:
    began = time.monotonic()
    local = start_local()
    local.wait_healthy(HEALTHY_WITHIN)
    healthy_after = time.monotonic() - began
    state = local.wait_ready(HEALTHY_WITHIN)
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
