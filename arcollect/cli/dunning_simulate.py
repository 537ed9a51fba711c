"""`arcollect dunning simulate --policy FILE --days N [--from D] [--compare FILE2] [--json]`: what a policy
file would send over the stored ledger, day by day, before it is applied — nothing is written or sent.

The file is read as `arcollect policy apply` reads it, so a bad one gets the same line-numbered problems
(exit 1); a bad `--from` or `--days` is bad usage (exit 2). Customer and invoice ids are stored text, so they
reach the terminal through `plain()` only."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from arcollect.cli.connection import connect
from arcollect.cli.output import EXIT_USAGE, emit_json, fail, plain, reported_errors, stderr, stdout
from shared.dunning.model import PolicyFile
from shared.dunning.policy import PolicyFileError, parse_policy_file
from shared.dunning.simulate import MAX_DAYS, SimResult, SimTotals, SimTouch, load_ledger, simulate

INVOICES_SHOWN = 4  # per touch line; the JSON lists them all


def simulate_command(
    policy: Path = typer.Option(..., "--policy", help="The policy file (YAML) to try."),
    days: int = typer.Option(..., "--days", min=1, max=MAX_DAYS, help="How many days to replay."),
    start: str | None = typer.Option(None, "--from", help="First day replayed, YYYY-MM-DD (default: today)."),
    compare: Path | None = typer.Option(None, "--compare", help="A second policy file, totals side by side."),
    as_json: bool = typer.Option(False, "--json", help="Every touch and the totals as JSON."),
    stage: str | None = typer.Option(None, "--stage", help="Deployed stage (default: the running local system)."),
    limit: int = typer.Option(200, "--limit", min=0, help="Touch lines printed (the JSON has all)."),
) -> None:
    """Replay the stored ledger under a policy file without sending anything: each planned touch (date,
    customer, invoices, channel, step) and the totals — touches per invoice, invoices reaching each step,
    first-touch age, late invoices touched before they were paid, messages and tasks per day."""
    first_day = _start(start, as_json)
    tried = _policy_file(policy, "--policy", as_json)
    other = _policy_file(compare, "--compare", as_json) if compare is not None else None
    target = connect(stage)
    day = first_day or target.today
    with reported_errors(as_json, lambda: target.description):
        ledger = load_ledger(progress=None if as_json else _progress)
        result = simulate(ledger, tried, day, days)
        compared = simulate(ledger, other, day, days) if other is not None else None
    if as_json:
        emit_json(
            {
                "from": day.isoformat(),
                "days": days,
                "policy": result.to_json(),
                "compare": compared.to_json() if compared is not None else None,
            }
        )
        return
    _print_touches(result, limit)
    _print_totals(result, compared, policy, compare)


def _start(text: str | None, as_json: bool) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--from {text!r} is not a date (YYYY-MM-DD)", as_json=as_json, code=EXIT_USAGE)


def _policy_file(path: Path, option: str, as_json: bool) -> PolicyFile:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{option} {path}: the policy file is not UTF-8 text", as_json=as_json, code=EXIT_USAGE)
    except OSError as exc:  # absent, a directory, unreadable: the OS says which, without a traceback
        fail(f"{option} {path}: {exc.strerror or 'cannot be read'}", as_json=as_json, code=EXIT_USAGE)
    try:
        return parse_policy_file(text)
    except PolicyFileError as exc:
        fail(f"{option} {path}: {exc.message}", as_json=as_json, details=exc.details)


def _progress(invoices: int) -> None:
    stderr.print(plain(f"read {invoices:,} invoices…"))


# --- people's output ---------------------------------------------------------------------------------------


def _print_touches(result: SimResult, limit: int) -> None:
    table = Table("date", "customer", "invoices", "channel", "step")
    for touch in result.touches[:limit]:
        table.add_row(*_touch_cells(touch))
    if result.touches and limit:
        stdout.print(table)
    hidden = len(result.touches) - min(limit, len(result.touches))
    if hidden:
        stdout.print(plain(f"… {hidden:,} more touches (--limit N prints more; --json lists all)"))
    if not result.touches:
        stdout.print(plain(f"no touches in the {result.days} days from {result.start.isoformat()}"))


def _touch_cells(touch: SimTouch) -> list[Text]:
    shown = ", ".join(touch.invoice_ids[:INVOICES_SHOWN])
    if len(touch.invoice_ids) > INVOICES_SHOWN:
        shown += f" (+{len(touch.invoice_ids) - INVOICES_SHOWN} more)"
    channel = touch.channel if touch.fallback_from is None else f"{touch.channel} (for {touch.fallback_from})"
    cells = (touch.date.isoformat(), touch.customer_id, shown, channel, ", ".join(touch.steps))
    return [plain(cell) for cell in cells]


def _print_totals(result: SimResult, compared: SimResult | None, policy: Path, other: Path | None) -> None:
    first = _total_lines(result.totals)
    if compared is None or other is None:
        table = Table("totals", "")
        for label, value in first:
            table.add_row(plain(label), plain(value))
    else:
        second = dict(_total_lines(compared.totals))
        table = Table("totals")
        table.add_column(plain(policy.name))
        table.add_column(plain(other.name))
        labels = list(dict.fromkeys([label for label, _ in first] + list(second)))
        values = dict(first)
        for label in labels:
            table.add_row(plain(label), plain(values.get(label, "-")), plain(second.get(label, "-")))
    stdout.print(plain(f"{result.days} days from {result.start.isoformat()}, nothing sent"))
    stdout.print(table)


def _total_lines(totals: SimTotals) -> list[tuple[str, str]]:
    lines = [
        ("invoices open in the window", _number(totals.invoices)),
        ("invoices touched", _number(totals.invoices_touched)),
        (
            "touches per invoice (mean / max)",
            f"{totals.touches_per_invoice_mean:.2f} / {totals.touches_per_invoice_max}",
        ),
        ("first-touch age, days (median / min)", _age(totals)),
        ("late invoices touched before paid", _late(totals)),
        ("messages (email, SMS)", _number(totals.messages)),
        ("messages per day (max / median)", f"{totals.messages_per_day_max} / {_half(totals.messages_per_day_median)}"),
        ("tasks (call, letter, agency, broken promise)", _number(totals.tasks)),
        ("tasks per day (max / median)", f"{totals.tasks_per_day_max} / {_half(totals.tasks_per_day_median)}"),
    ]
    lines += [(f"channel {channel}", _number(count)) for channel, count in totals.channels.items()]
    lines += [(f"invoices reaching {step}", _number(count)) for step, count in totals.invoices_reaching_step.items()]
    if totals.invoices_without_customer:
        lines.append(("invoices without a stored customer", _number(totals.invoices_without_customer)))
    return lines


def _number(value: int) -> str:
    return f"{value:,}"


def _half(value: float) -> str:
    return f"{value:g}"


def _age(totals: SimTotals) -> str:
    if totals.first_touch_age_median is None:
        return "-"
    return f"{_half(totals.first_touch_age_median)} / {totals.first_touch_age_min}"


def _late(totals: SimTotals) -> str:
    share = totals.late_touched_share
    if share is None:
        return "- (no late invoice)"
    return f"{totals.late_touched_before_paid:,} of {totals.late_invoices:,} ({share:.0%})"


__all__ = ["simulate_command"]
