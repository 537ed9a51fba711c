"""Dunning runs started by hand and what they did: `arcollect dunning run` and `/staff/dunning/runs`.

A run is one execution of the dunning state machine, the same one the hourly schedule starts, with the
execution's name as the run id and `{"as_of", "trigger"}` as its input (shared/dunning/run.py reads it). What a
run did is added up from its record (the plan and finish steps write it) and its batches (one record per batch).

The API function finds the state machine without listing state machines: its name comes from the stage, and
its partition, region and account are the function's own (from its ARN), so it needs only StartExecution."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from typing import Any

from shared.data.tables import DunningBatchRecord, DunningRunRecord
from shared.settings import stage_names
from shared.staff.models import RunStarted, RunSummary

# Hourly runs, retried runs and runs started by hand: a day has a few dozen, never this many.
RUNS_PER_DAY_MAX = 500


def state_machine_arn(sfn: Any, stage: str) -> str:
    """The deployed state machine's ARN, by its name (for callers that may list state machines: the CLI)."""
    name = stage_names(stage).dunning_state_machine
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    raise LookupError(f"the dunning state machine {name} is not deployed in this stage")


def state_machine_arn_beside(function_arn: str, stage: str) -> str:
    """The stage's state machine in the partition, region and account of the Lambda function `function_arn`
    (`arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME`)."""
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda":
        raise ValueError("not the ARN of a Lambda function")
    partition, region, account = parts[1], parts[3], parts[4]
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{stage_names(stage).dunning_state_machine}"


def start_run(sfn: Any, machine_arn: str, as_of: dt.date, trigger: str) -> RunStarted:
    """Start one run covering all of `as_of`; `trigger` (cli, staff) names who asked, in the run id too."""
    run_id = f"{trigger}-{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    started = sfn.start_execution(
        stateMachineArn=machine_arn, name=run_id, input=json.dumps({"as_of": as_of.isoformat(), "trigger": trigger})
    )
    return RunStarted(run_id=run_id, run_date=as_of, execution_arn=str(started["executionArn"]))


def run_report(run_id: str, run_date: str, status: str) -> dict[str, Any]:
    """What the run did, from its record and its batches (the dispatch writes one record per batch)."""
    try:
        record: DunningRunRecord | None = DunningRunRecord.get(run_date, run_id, consistent_read=True)
    except DunningRunRecord.DoesNotExist:
        record = None
    return report_of(run_id, run_date, status, record)


def report_of(run_id: str, run_date: str, status: str, record: DunningRunRecord | None) -> dict[str, Any]:
    sent: Counter[str] = Counter()
    tasks: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    failed = touched = 0
    outcomes: list[dict[str, Any]] = []
    batch_customers: dict[str, int] = {}
    for batch in DunningBatchRecord.query(run_id, consistent_read=True):
        counts = batch.counts or {}
        sent.update(counts.get("sent") or {})
        tasks.update(counts.get("tasks") or {})
        skipped.update(counts.get("skipped") or {})
        failed += int(counts.get("failed") or 0)
        touched += int(counts.get("touched") or 0)
        # A batch the state machine retried has a record per attempt: its customers count once.
        name = batch.batch_id.split("#", 1)[0]
        batch_customers[name] = max(batch_customers.get(name, 0), int(counts.get("customers") or 0))
        outcomes.extend(batch.outcomes or [])
    counts = (record.counts or {}) if record is not None else {}
    planned: dict[str, Any] = counts.get("planned") or {}
    result: dict[str, Any] = counts.get("result") or {}
    return {
        "run_id": run_id,
        "as_of": run_date,
        "status": status.lower(),
        "due_invoices": int(planned.get("due_invoices") or 0),
        "customers": sum(batch_customers.values()),
        "sent": dict(sorted(sent.items())),
        "tasks": dict(sorted(tasks.items())),
        "touched_invoices": touched,
        "skipped": dict(sorted(skipped.items())),
        "failed": failed,
        "retrying": int(result.get("retrying") or 0),
        "outcomes": outcomes,
    }


def execution_arn_of(machine_arn: str, run_id: str) -> str:
    """A run's execution: the run id is the execution's name."""
    return f"{machine_arn.replace(':stateMachine:', ':execution:', 1)}:{run_id}"


def runs_of_day(day: dt.date, machine_arn: str | None = None) -> list[RunSummary]:
    """Every run planned as of `day`, the earliest started first; with `machine_arn`, each names its execution."""
    records = DunningRunRecord.query(day.isoformat(), consistent_read=True, limit=RUNS_PER_DAY_MAX)
    summaries = (_summary(record, machine_arn) for record in records)
    return sorted(summaries, key=lambda run: (run.started_at, run.run_id))


def _summary(record: DunningRunRecord, machine_arn: str | None) -> RunSummary:
    report = report_of(record.run_id, record.run_date, record.status, record)
    del report["outcomes"], report["as_of"]
    execution_arn = record.execution_arn or (execution_arn_of(machine_arn, record.run_id) if machine_arn else None)
    return RunSummary(
        **report,
        run_date=dt.date.fromisoformat(record.run_date),
        execution_arn=execution_arn,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )
