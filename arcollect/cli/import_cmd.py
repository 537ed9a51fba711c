"""`arcollect import {customers,invoices,payments} FILE [--map MAP.yaml] [--dry-run]`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from arcollect.cli.connection import connect
from arcollect.cli.output import EXIT_FAILED, emit_json, fail, reported_errors, stderr, stdout
from shared.errors import FileFormatError
from shared.ledger.column_map import ColumnMap
from shared.ledger.importer import LedgerImporter, build_importer
from shared.ledger.report import ImportReport

# Below this many rows a progress bar only flickers.
PROGRESS_MIN_ROWS = 2000


class Kind(StrEnum):
    customers = "customers"
    invoices = "invoices"
    payments = "payments"


def import_command(
    kind: Kind = typer.Argument(..., help="What the file holds."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="A UTF-8 CSV file."),
    map_file: Path | None = typer.Option(
        None, "--map", exists=True, dir_okay=False, help="Column map (YAML) for another ERP's export."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row and report, but store nothing."),
    stage: str | None = typer.Option(None, "--stage", help="Deployed stage (default: the running local system)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import customers, invoices or payments from a CSV file. Idempotent: the same file twice changes
    nothing. Prints every rejected or warned line; exits 1 when any row was rejected."""
    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        column_map = ColumnMap.from_yaml(map_file.read_text(encoding="utf-8"), kind.value) if map_file else None
        importer = build_importer(target.settings)
        data = file.read_bytes()
        try:
            report = _run_with_progress(importer, kind, data, str(file), column_map, dry_run, quiet=as_json)
        except FileFormatError as exc:
            fail(f"{file}: {exc.message} (nothing was imported)", as_json=as_json)
    if as_json:
        emit_json(report)
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _run_with_progress(
    importer: LedgerImporter,
    kind: Kind,
    data: bytes,
    source: str,
    column_map: ColumnMap | None,
    dry_run: bool,
    *,
    quiet: bool,
) -> ImportReport:
    rows_estimate = data.count(b"\n")
    if quiet or rows_estimate < PROGRESS_MIN_ROWS or not stderr.is_terminal:
        return importer.import_file(kind.value, data, source=source, column_map=column_map, dry_run=dry_run)
    columns = (TextColumn(f"importing {kind.value}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task("import", total=rows_estimate)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return importer.import_file(
            kind.value, data, source=source, column_map=column_map, dry_run=dry_run, progress=advance
        )


def _print_report(report: ImportReport) -> None:
    for problem in report.problems:
        stdout.print(str(problem), markup=False)
    counts = [
        f"{report.rows} rows",
        f"{report.created} created",
        f"{report.updated} updated",
        f"{report.unchanged} unchanged",
        f"{report.rejected} rejected",
        f"{report.warnings} warnings",
    ]
    if report.skipped:
        counts.append(f"{report.skipped} skipped by the map")
    verb = "would import" if report.dry_run else "imported"
    stdout.print(f"{report.kind} {verb} from {report.source}: " + ", ".join(counts), markup=False)
