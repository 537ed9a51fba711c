"""`arcollect dunning run [--as-of D] [--wait]`, `arcollect dunning simulate …` and `arcollect worklist`.

A run is one execution of the dunning state machine, the same one the hourly schedule starts; the command
starts it and, with `--wait`, follows it and adds its batches up: what was sent, what became a task, what was
skipped and why, what failed."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

import typer
from rich.table import Table

from arcollect.cli.connection import Target, connect
from arcollect.cli.output import EXIT_USAGE, emit_json, fail, plain, reported_errors, stderr, stdout
from shared.staff.runs import run_report, start_run, state_machine_arn
from shared.staff.worklist import open_tasks, task_json

dunning_app = typer.Typer(help="Dunning: run the reminders now, or simulate a policy.", no_args_is_help=True)

POLL_SECONDS = 0.5
OUTCOMES_SHOWN = 50


def _client(target: Target, service: str) -> Any:
    import boto3

    settings = target.settings
    return boto3.client(service, region_name=settings.region, endpoint_url=settings.endpoint_url)


def _parse_day(value: str | None, option: str, as_json: bool) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date (YYYY-MM-DD), not {value[:20]!r}", as_json=as_json, code=EXIT_USAGE)


@dunning_app.command("run")
def run_command(
    as_of: str | None = typer.Option(
        None, "--as-of", metavar="YYYY-MM-DD", help="Plan as of this day (default: the system's today)."
    ),
    wait: bool = typer.Option(False, "--wait", help="Wait for the run and print what was sent, skipped and why."),
    timeout: float = typer.Option(900.0, "--timeout", min=1, help="Seconds --wait waits at most."),
    stage: str | None = typer.Option(None, "--stage"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Start one dunning run now (the scheduler starts one every hour). It covers all of the day."""
    day = _parse_day(as_of, "--as-of", as_json)
    target = connect(stage)
    day = day or target.today
    with reported_errors(as_json, lambda: target.description):
        sfn = _client(target, "stepfunctions")
        try:
            arn = state_machine_arn(sfn, target.settings.stage)
        except LookupError as exc:
            fail(str(exc), as_json=as_json)
        started = start_run(sfn, arn, day, trigger="cli")
        run_id, execution_arn = started.run_id, started.execution_arn
        if not wait:
            if as_json:
                emit_json({"run_id": run_id, "as_of": day.isoformat(), "execution_arn": execution_arn})
            else:
                stdout.print(plain(f"dunning run {run_id} started for {day.isoformat()}"))
                stdout.print(plain("follow it with --wait next time, or read `arcollect worklist` and the outbox"))
            return
        status = _wait(sfn, execution_arn, timeout, quiet=as_json)
        report = run_report(run_id, day.isoformat(), status)
    if as_json:
        emit_json(report)
    else:
        _print_report(report)
    if status != "SUCCEEDED":
        raise typer.Exit(1)


def _wait(sfn: Any, execution_arn: str, timeout: float, *, quiet: bool) -> str:
    deadline = time.monotonic() + timeout
    shown = 0.0
    while True:
        status = str(sfn.describe_execution(executionArn=execution_arn)["status"])
        if status != "RUNNING":
            if not quiet and shown:
                print(file=sys.stderr)
            return status
        if time.monotonic() > deadline:
            return "TIMED_OUT_WAITING"
        if not quiet and time.monotonic() - shown > 2:
            print(".", end="", file=sys.stderr, flush=True)
            shown = time.monotonic()
        time.sleep(POLL_SECONDS)


def _print_report(report: dict[str, Any]) -> None:
    status = report["status"]
    stdout.print(plain(f"dunning run {report['run_id']} as of {report['as_of']}: {status}", "bold"))
    due, customers, touched = report["due_invoices"], report["customers"], report["touched_invoices"]
    stdout.print(plain(f"  {due} invoices due, {customers} customers, {touched} touched"))
    sent = ", ".join(f"{n} {channel}" for channel, n in report["sent"].items()) or "nothing"
    stdout.print(plain(f"  sent:    {sent}"))
    tasks = ", ".join(f"{n} {kind}" for kind, n in report["tasks"].items()) or "none"
    stdout.print(plain(f"  tasks:   {tasks}"))
    skipped = ", ".join(f"{n} {reason}" for reason, n in report["skipped"].items()) or "none"
    stdout.print(plain(f"  skipped: {skipped}"))
    failed = f"{report['failed']}" + (f" (retrying {report['retrying']})" if report["retrying"] else "")
    stdout.print(plain(f"  failed:  {failed}"))
    if report["skipped"].get("no_policy"):
        stdout.print(plain("  no dunning policy is applied: `arcollect policy apply FILE` first (docs/policies.md)"))
    shown = [o for o in report["outcomes"] if o.get("outcome") != "skipped"][:OUTCOMES_SHOWN]
    if shown:
        table = Table("customer", "channel", "invoices", "steps", "outcome")
        for outcome in shown:
            table.add_row(
                plain(outcome.get("customer_id", "")),
                plain(outcome.get("channel", "")),
                plain(", ".join(outcome.get("invoice_ids") or [])),
                plain(", ".join(outcome.get("steps") or [])),
                plain(outcome.get("outcome", "") + (f": {outcome['reason']}" if outcome.get("reason") else "")),
            )
        stdout.print(table)


# --- worklist -------------------------------------------------------------------------------------------


def worklist_command(
    limit: int = typer.Option(200, "--limit", min=1, max=10000, help="Tasks shown."),
    stage: str | None = typer.Option(None, "--stage"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The open tasks of the collectors: calls, letters to mail, agency referrals, failed sends, bounces."""
    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        tasks = [task_json(t) for t in open_tasks(limit)]
    if as_json:
        emit_json({"tasks": tasks})
        return
    if not tasks:
        stderr.print(plain("No open tasks."))
        return
    table = Table("due", "kind", "customer", "invoices", "reason", "task")
    for task in tasks:
        table.add_row(
            plain(task["due"]),
            plain(task["kind"]),
            plain(task["customer_id"]),
            plain(", ".join(task["invoice_ids"])),
            plain(task["reason"]),
            plain(task["task_id"]),
        )
    stdout.print(table)
    stdout.print(plain(f"{len(tasks)} open task{'s' if len(tasks) != 1 else ''}"))


def register(app: typer.Typer) -> None:
    from arcollect.cli.dunning_simulate import simulate_command

    dunning_app.command("simulate")(simulate_command)
    app.add_typer(dunning_app, name="dunning")
    app.command("worklist")(worklist_command)
