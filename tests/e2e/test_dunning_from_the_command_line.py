"""The issue's "done when", as a new user does it: `arcollect local --demo`, apply the INTERFACES.md example
policy as printed, `arcollect dunning run --wait`, read the emails with their PDFs in `arcollect outbox`, and
run the day again without a second message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

READY_WITHIN = 240
TODAY = "2026-11-23"  # a Monday, no US holiday

# INTERFACES.md's example, verbatim (its `gentle` policy is only a comment: a policy without steps).
EXAMPLE_POLICY = (Path(__file__).resolve().parents[1] / "fixtures" / "interfaces-example-policy.yaml").read_text()


def run_json(local: Any, *args: str, timeout: float = 600) -> Any:
    done = local.run(*args, "--json", timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_a_new_user_applies_the_example_policy_runs_the_day_and_reads_the_reminders(
    start_local: Callable[..., Any], tmp_path: Path
) -> None:
    local = start_local("--demo", "--today", TODAY)
    local.wait_ready(READY_WITHIN)
    policy = tmp_path / "policy.yaml"
    policy.write_text(EXAMPLE_POLICY)

    linted = local.run("policy", "lint", str(policy))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    applied = run_json(local, "policy", "apply", str(policy))
    assert applied["policies"] == 2 and applied["segments"] == 2

    report = run_json(local, "dunning", "run", "--wait")
    assert report["status"] == "succeeded" and report["as_of"] == TODAY
    assert report["sent"].get("email", 0) > 0 and report["failed"] == 0

    messages = run_json(local, "outbox")
    emails = [m for m in messages if m["channel"] == "email"]
    assert len(emails) == report["sent"]["email"]
    for email in emails:
        assert email["sent_at"].startswith(TODAY)
        assert email["customer_id"] and email["invoice_ids"] and email["steps"]
        # Every listed invoice's copy and the statement, as PDFs; a personal portal link.
        assert len(email["attachments"]) == len(email["invoice_ids"]) + 1
        assert all(name.endswith(".pdf") for name in email["attachments"])
        assert any(name.startswith("statement-") for name in email["attachments"])
        assert any("?link=" in link for link in email["links"])
    # One message per customer per channel per day.
    keys = [(m["customer_id"], m["channel"]) for m in messages]
    assert len(keys) == len(set(keys))

    again = run_json(local, "dunning", "run", "--wait")
    assert again["status"] == "succeeded" and again["sent"] == {}
    assert len(run_json(local, "outbox")) == len(messages)

    worklist = run_json(local, "worklist")
    assert all(
        {"task_id", "kind", "customer_id", "invoice_ids", "due", "score", "reason"} <= set(t) for t in worklist["tasks"]
    )
    assert local.stop() == 0, local.output()
