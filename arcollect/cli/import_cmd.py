"""`arcollect import KIND FILE [--map MAP.yaml] [--dry-run]`, for every kind the ledger formats define
(`shared.ledger.formats.KINDS`: customers, invoices, payments, credits).

A row's problems quote what the file holds, so they are printed through `plain()`, as data. A bad column
map is bad usage (exit 2) like any other bad argument; a bad ledger file is a failed import (exit 1)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from arcollect.cli.connection import connect
from arcollect.cli.output import EXIT_FAILED, EXIT_USAGE, emit_json, fail, plain, reported_errors, stderr, stdout
from shared.errors import ColumnMapError, FileFormatError
from shared.ledger.column_map import ColumnMap
from shared.ledger.formats import RecordKind
from shared.ledger.importer import LedgerImporter, build_importer
from shared.ledger.report import ImportReport

# Below this many rows a progress bar only flickers.
PROGRESS_MIN_ROWS = 2000


def import_command(
    # RecordKind is the Literal that KINDS spells out, so typer offers exactly the kinds the ledger knows.
    kind: RecordKind = typer.Argument(..., help="What the file holds."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="A UTF-8 CSV file."),
    map_file: Path | None = typer.Option(None, "--map", help="Column map (YAML) for another ERP's export."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row and report, but store nothing."),
    stage: str | None = typer.Option(None, "--stage", help="Deployed stage (default: the running local system)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import customers, invoices, payments or credits from a CSV file. Idempotent: the same file twice
    changes nothing. Prints every rejected or warned line; exits 1 when any row was rejected."""
    column_map = _load_map(map_file, kind, as_json=as_json) if map_file else None
    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        importer = build_importer(target.settings)
        data = file.read_bytes()
        try:
            report = _run_with_progress(importer, kind, data, str(file), column_map, dry_run, quiet=as_json)
        except ColumnMapError as exc:  # the map does not fit this file: a column it reads is absent, …
            fail(f"--map {map_file}: {exc.message} (nothing was imported)", as_json=as_json, code=EXIT_USAGE)
        except FileFormatError as exc:
            fail(f"{file}: {exc.message} (nothing was imported)", as_json=as_json)
    if as_json:
        emit_json(report)
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _load_map(path: Path, kind: RecordKind, *, as_json: bool) -> ColumnMap:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"--map {path}: the column map is not UTF-8 text", as_json=as_json, code=EXIT_USAGE)
    except OSError as exc:  # absent, a directory, unreadable: the OS says which, without a traceback
        fail(f"--map {path}: {exc.strerror or 'cannot be read'}", as_json=as_json, code=EXIT_USAGE)
    try:
        return ColumnMap.from_yaml(text, kind)
    except (ColumnMapError, FileFormatError) as exc:  # either way the fault is the map's, not the ledger's
        fail(f"--map {path}: {exc.message}", as_json=as_json, code=EXIT_USAGE, details=exc.details)


def _run_with_progress(
    importer: LedgerImporter,
    kind: RecordKind,
    data: bytes,
    source: str,
    column_map: ColumnMap | None,
    dry_run: bool,
    *,
    quiet: bool,
) -> ImportReport:
    rows_estimate = data.count(b"\n")
    if quiet or rows_estimate < PROGRESS_MIN_ROWS or not stderr.is_terminal:
        return importer.import_file(kind, data, source=source, column_map=column_map, dry_run=dry_run)
    columns = (TextColumn(f"importing {kind}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task("import", total=rows_estimate)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return importer.import_file(kind, data, source=source, column_map=column_map, dry_run=dry_run, progress=advance)


def _print_report(report: ImportReport) -> None:
    for problem in report.problems:
        stdout.print(plain(problem))
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
    stdout.print(plain(f"{report.kind} {verb} from {report.source}: " + ", ".join(counts)))
