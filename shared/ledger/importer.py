"""Importing one CSV file of customers, invoices or payments: the same code behind `arcollect import` and
the S3 drop folder. Good rows land even when others are rejected; a file-level fault writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from shared.data.binding import bind_tables
from shared.data.tables import CustomerRecord, ImportRecord, InvoiceRecord, PaymentRecord
from shared.errors import ConflictError, DomainError, FileFormatError
from shared.ledger.csv_source import CsvSource, SourceRow, open_csv
from shared.ledger.customer_sync import flag_shared_tin, merge_customer
from shared.ledger.formats import COLUMNS, KINDS, RecordKind, missing_required
from shared.ledger.invoice_sync import merge_invoice
from shared.ledger.payment_sync import plan_payment, same_payment
from shared.ledger.report import STORED_PROBLEMS_LIMIT, ImportReport
from shared.ledger.repository import LedgerRepository
from shared.ledger.rows import (
    CustomerRow,
    InvoiceRow,
    PaymentRow,
    parse_customer,
    parse_invoice,
    parse_payment,
)
from shared.security.tin_vault import KmsTinVault, TinVault
from shared.settings import RuntimeSettings

if TYPE_CHECKING:  # a column map is built by the caller; the Lambda path never loads that module
    from shared.ledger.column_map import ColumnMap

CHUNK_ROWS = 100
_Row = TypeVar("_Row", CustomerRow, InvoiceRow, PaymentRow)
Progress = Callable[[int, int], None]  # (rows done, rows in the file)


@dataclass
class LedgerImporter:
    repository: LedgerRepository
    vault: TinVault
    clock: Callable[[], datetime]
    _owners_seen: dict[str, set[str]] = field(default_factory=dict)
    _customer_cache: dict[str, CustomerRecord] = field(default_factory=dict)

    def import_file(
        self,
        kind: RecordKind,
        data: bytes,
        *,
        source: str,
        column_map: ColumnMap | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ImportReport:
        if kind not in KINDS:
            raise FileFormatError(f"unknown kind {kind!r}: import one of {', '.join(KINDS)}")
        csv_file = open_csv(data)
        if column_map is not None:
            column_map.check_against(kind, csv_file.header)
            provided = column_map.provides(kind, csv_file.header)
        else:
            provided = set(csv_file.header)
        missing = missing_required(kind, provided)
        if missing:
            raise FileFormatError(
                f"the file has no column(s) {', '.join(missing)}, required for {kind} "
                f"(its header: {', '.join(csv_file.header)})"
            )

        self._owners_seen = {}
        self._customer_cache = {}
        report = ImportReport(import_id=uuid.uuid4().hex, kind=kind, source=source, dry_run=dry_run)
        stored = self._start(report)
        try:
            self._import_rows(kind, csv_file, column_map, report, progress)
        except BaseException:
            self._finish(stored, report, status="failed")  # what landed so far is said, not hidden
            raise
        report.problems.sort(key=lambda p: p.line)
        self._finish(stored, report, status="done")
        return report

    def _import_rows(
        self,
        kind: RecordKind,
        csv_file: CsvSource,
        column_map: ColumnMap | None,
        report: ImportReport,
        progress: Progress | None,
    ) -> None:
        step = {"customers": self._customers, "invoices": self._invoices, "payments": self._payments}[kind]
        done = 0
        for chunk in _chunks(csv_file.rows(), CHUNK_ROWS):
            rows = []
            for source_row in chunk:
                report.rows += 1
                if column_map is not None and column_map.skips(source_row.values):
                    report.skipped += 1
                    continue
                if "__extra__" in source_row.values:
                    report.reject(source_row.line, "the row has more cells than the header has columns")
                    continue
                values = (
                    column_map.apply(kind, source_row.values)
                    if column_map is not None
                    else {name: source_row.values[name] for name in COLUMNS[kind] if name in source_row.values}
                )
                rows.append(SourceRow(source_row.line, values))
            step(rows, report)
            done += len(chunk)
            if progress:
                progress(done, csv_file.row_count)

    # --- customers ---------------------------------------------------------------------------------

    def _customers(self, rows: list[SourceRow], report: ImportReport) -> None:
        parsed: list[tuple[int, CustomerRow]] = self._parse(rows, parse_customer, report)
        existing = self.repository.customers(row.customer_id for _, row in parsed)
        for line, row in parsed:
            try:
                merge = merge_customer(row, existing.get(row.customer_id), self.vault, self._tin_owners, self.clock())
            except DomainError as exc:
                report.reject(line, exc.message, row.customer_id)
                continue
            for warning in merge.warnings:
                report.warn(line, warning, row.customer_id)
            if merge.changed and not report.dry_run:
                self.repository.save(merge.record)
            self._flag_tin_holders(merge.tin_shared_with, row.customer_id, existing, report.dry_run)
            # A later row of the same file sees this one (an export may repeat a customer).
            existing[row.customer_id] = merge.record
            if merge.record.tin_fingerprint:
                owners = self._owners_seen.setdefault(merge.record.tin_fingerprint, set())
                owners.add(row.customer_id)
            report.count("created" if merge.created else "updated" if merge.changed else "unchanged")

    def _flag_tin_holders(
        self, holders: list[str], claimant: str, known: dict[str, CustomerRecord], dry_run: bool
    ) -> None:
        """Both sides of a shared TIN need attention, not only the customer imported last."""
        for holder_id in holders:
            holder = known.get(holder_id) or self.repository.customer(holder_id)
            if holder is not None and flag_shared_tin(holder, claimant, self.clock()):
                known[holder_id] = holder
                if not dry_run:
                    self.repository.save(holder)

    def _tin_owners(self, fingerprint: str) -> list[str]:
        """Customers holding a TIN: those stored, and those earlier rows of this file gave it to (the
        index is eventually consistent and a dry run stores nothing)."""
        stored = set(self.repository.customers_with_tin(fingerprint))
        return sorted(stored | self._owners_seen.get(fingerprint, set()))

    def _customers_of(self, customer_ids: Iterable[str]) -> dict[str, CustomerRecord]:
        """The customers invoice and payment rows name, read once per import: a file's rows mostly name
        customers an earlier chunk already read (and payments keep those records current)."""
        wanted = set(customer_ids)
        missing = wanted - self._customer_cache.keys()
        if missing:
            self._customer_cache.update(self.repository.customers(missing))
        return {c: self._customer_cache[c] for c in wanted if c in self._customer_cache}

    # --- invoices ----------------------------------------------------------------------------------

    def _invoices(self, rows: list[SourceRow], report: ImportReport) -> None:
        parsed: list[tuple[int, InvoiceRow]] = self._parse(rows, parse_invoice, report)
        customers = self._customers_of(row.customer_id for _, row in parsed)
        existing = self.repository.invoices(row.invoice_id for _, row in parsed)
        new_records = {}
        for line, row in parsed:
            if row.customer_id not in customers:
                report.reject(line, f"customer {row.customer_id} is not known: import customers first", row.invoice_id)
                continue
            try:
                merge = merge_invoice(row, existing.get(row.invoice_id), self.clock())
            except DomainError as exc:
                report.reject(line, exc.message, row.invoice_id)
                continue
            if merge.created:
                new_records[row.invoice_id] = merge.record
            elif merge.changed and not report.dry_run and row.invoice_id not in new_records:
                self.repository.save(merge.record)
            existing[row.invoice_id] = merge.record
            report.count("created" if merge.created else "updated" if merge.changed else "unchanged")
        if new_records and not report.dry_run:
            self.repository.insert_new(list(new_records.values()))

    # --- payments ----------------------------------------------------------------------------------

    def _payments(self, rows: list[SourceRow], report: ImportReport) -> None:
        parsed: list[tuple[int, PaymentRow]] = self._parse(rows, parse_payment, report)
        self._customers_of(row.customer_id for _, row in parsed)
        stored = self.repository.payments(row.payment_id for _, row in parsed)
        # Records stay current across the chunk: a committed transaction bumps their local versions.
        invoices = self.repository.invoices(row.invoice_id for _, row in parsed if row.invoice_id)
        for line, row in parsed:
            customer = self._customer_cache.get(row.customer_id)
            try:
                if customer is None:
                    raise ConflictError(f"customer {row.customer_id} is not known: import customers first")
                created = self._apply_payment(row, stored.get(row.payment_id), customer, invoices, report.dry_run)
            except DomainError as exc:
                report.reject(line, exc.message, row.payment_id)
                continue
            report.count("created" if created else "unchanged")

    def _apply_payment(
        self,
        row: PaymentRow,
        stored: PaymentRecord | None,
        customer: CustomerRecord,
        invoices: dict[str, InvoiceRecord],
        dry_run: bool,
    ) -> bool:
        if stored is not None:
            if same_payment(row, stored):
                return False
            raise ConflictError(
                f"payment {row.payment_id} is already recorded with other details "
                f"({stored.paid_on}, {stored.amount_minor} minor units {stored.currency}, "
                f"customer {stored.customer_id})"
            )
        if row.invoice_id is not None:
            invoice = invoices.get(row.invoice_id)
            if invoice is None:
                raise ConflictError(f"invoice {row.invoice_id} is not known: import invoices first")
            candidates = [invoice]
        else:
            candidates = [
                i
                for i in self.repository.customer_invoices(row.customer_id)
                if i.currency == row.currency and i.balance_minor > 0
            ]
        plan = plan_payment(row, candidates, customer, self.clock())
        if not dry_run:
            try:
                self.repository.apply_payment(plan.payment, plan.invoices, plan.customer, plan.activity)
            except ConflictError:
                # The plan changed these records in memory; what is stored is what later rows must see.
                invoices.update(self.repository.invoices(i.invoice_id for i in plan.invoices))
                self._customer_cache.update(self.repository.customers([row.customer_id]))
                raise
        return True

    # --- shared steps ------------------------------------------------------------------------------

    @staticmethod
    def _parse(
        rows: list[SourceRow], parser: Callable[[dict[str, str]], _Row], report: ImportReport
    ) -> list[tuple[int, _Row]]:
        parsed = []
        for source_row in rows:
            try:
                parsed.append((source_row.line, parser(source_row.values)))
            except DomainError as exc:
                record_id = next(iter(source_row.values.values()), "") or None
                report.reject(source_row.line, exc.message, record_id)
        return parsed

    def _start(self, report: ImportReport) -> ImportRecord | None:
        if report.dry_run:
            return None
        record = ImportRecord(
            report.import_id,
            kind=report.kind,
            source=report.source,
            status="running",
            started_at=self.clock(),
        )
        self.repository.save(record)
        return record

    def _finish(self, record: ImportRecord | None, report: ImportReport, status: str) -> None:
        if record is None:
            return
        record.status = status
        record.counts = report.counts()
        record.problems = [asdict(p) for p in report.problems[:STORED_PROBLEMS_LIMIT]]
        record.finished_at = self.clock()
        self.repository.save(record)


def _chunks(rows: Iterator[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    chunk: list[SourceRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build_importer(settings: RuntimeSettings, clock: Callable[[], datetime] | None = None) -> LedgerImporter:
    """The importer wired to one deployment (AWS, or the local emulator when settings name an endpoint)."""
    import boto3  # here, not at module level: the pure parts of this module are used without AWS

    bind_tables(settings.table_prefix, settings.region, settings.endpoint_url)
    kms = boto3.client("kms", region_name=settings.region, endpoint_url=settings.endpoint_url)
    vault = KmsTinVault(kms=kms, key_id=settings.tin_key_id, mac_key_id=settings.tin_mac_key_id)
    return LedgerImporter(repository=LedgerRepository(), vault=vault, clock=clock or (lambda: datetime.now(UTC)))
