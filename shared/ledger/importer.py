"""Importing one CSV file of customers, invoices, payments or credit notes: the same code behind `arcollect
import` and the S3 drop folder. Good rows land even when others are rejected; a file-level fault writes
nothing. Invoices, payments and credit notes go through the customer's ledger (customer_ledger.py), which
re-allocates the customer's money as a whole, so the result depends on the set of rows, not their order."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from shared.clock import clock_for
from shared.data.binding import bind_tables
from shared.data.tables import (
    CreditNoteRecord,
    CustomerRecord,
    ImportRecord,
    InvoiceRecord,
    PaymentRecord,
    TinClaimRecord,
)
from shared.errors import ConflictError, DomainError, FileFormatError, ValidationError
from shared.ledger.allocation import CREDIT_NOTE, PAYMENT
from shared.ledger.csv_source import CsvSource, SourceRow, open_csv
from shared.ledger.customer_ledger import CustomerLedger, DocumentRecord, Write, document_key
from shared.ledger.customer_sync import flag_shared_tin, merge_customer, row_fingerprint
from shared.ledger.formats import COLUMNS, ID_COLUMN, KINDS, RecordKind, missing_required
from shared.ledger.invoice_sync import merge_invoice
from shared.ledger.report import STORED_PROBLEMS_LIMIT, ImportReport
from shared.ledger.repository import TRANSACTION_ITEMS, LedgerRepository, LedgerStore, check_item_sizes
from shared.ledger.rows import (
    CreditRow,
    CustomerRow,
    InvoiceRow,
    PaymentRow,
    parse_credit,
    parse_customer,
    parse_invoice,
    parse_payment,
)
from shared.money import quoted
from shared.security.tin_vault import KmsTinVault, TinVault
from shared.settings import RuntimeSettings

if TYPE_CHECKING:  # a column map is built by the caller; the Lambda path never loads that module
    from shared.ledger.column_map import ColumnMap

CHUNK_ROWS = 100
# Customers' ledgers kept in memory during one import (each is read once, then kept current by the commits).
LEDGER_CACHE_SIZE = 1024
COMMIT_ATTEMPTS = 3
INDEX_ATTEMPTS = 6
INDEX_BACKOFF_S = 0.1
_Row = TypeVar("_Row", CustomerRow, InvoiceRow, PaymentRow, CreditRow)
DocumentRow = PaymentRow | CreditRow
Outcome = tuple[str, str]  # ("created" | "updated" | "unchanged" | "rejected", reason)
Progress = Callable[[int, int], None]  # (rows done, rows in the file)


@dataclass
class LedgerImporter:
    repository: LedgerStore
    vault: TinVault
    clock: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep
    _claims: dict[str, TinClaimRecord] = field(default_factory=dict)
    _claims_read: set[str] = field(default_factory=set)
    _customer_cache: dict[str, CustomerRecord] = field(default_factory=dict)
    _ledgers: OrderedDict[str, CustomerLedger] = field(default_factory=OrderedDict)
    _lines_by_id: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (first line, row hash)
    _kind: RecordKind = "customers"
    _prefetched: dict[str, CustomerRecord] = field(default_factory=dict)
    # The chunk's documents as stored (read once per chunk, again for a customer whose write is retried).
    _documents_seen: dict[str, DocumentRecord] = field(default_factory=dict)
    _documents_read: set[str] = field(default_factory=set)

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
                f"(its header: {_header_preview(csv_file.header)})"
            )

        self._claims = {}
        self._claims_read = set()
        self._customer_cache = {}
        self._ledgers = OrderedDict()
        self._prefetched = {}
        self._lines_by_id = {}
        self._kind = kind
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
        step = {
            "customers": self._customers,
            "invoices": self._invoices,
            "payments": self._payments,
            "credits": self._credits,
        }[kind]
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
        """A chunk of customers costs two batch reads (the customers, the claims on their TINs) and its
        writes in transactions of up to 100 items, each customer guarded by its version."""
        parsed: list[tuple[int, CustomerRow]] = self._parse(rows, parse_customer, report)
        existing = self.repository.customers(row.customer_id for _, row in parsed)
        wanted = {row_fingerprint(row, existing.get(row.customer_id), self.vault) for _, row in parsed}
        wanted |= {c.tin_fingerprint for c in existing.values()}
        self._read_claims(fp for fp in wanted if fp)
        changed: dict[str, CustomerRecord] = {}
        claims_changed: dict[str, TinClaimRecord] = {}
        lines_of: dict[str, list[int]] = {}
        outcomes: list[tuple[int, str, Outcome]] = []
        now = self.clock()
        for line, row in parsed:
            before = existing.get(row.customer_id)
            old_fingerprint = before.tin_fingerprint if before else None
            try:
                merge = merge_customer(row, before, self.vault, self._tin_owners, now)
            except DomainError as exc:
                outcomes.append((line, row.customer_id, ("rejected", exc.message)))
                continue
            for warning in merge.warnings:
                report.warn(line, warning, row.customer_id)
            record = merge.record
            if merge.changed:
                changed[row.customer_id] = record
            if record.tin_fingerprint != old_fingerprint:
                self._move_claim(row.customer_id, old_fingerprint, record.tin_fingerprint, claims_changed, now)
            for holder in self._flag_tin_holders(merge.tin_shared_with, row.customer_id, existing):
                changed[holder.customer_id] = holder
                lines_of.setdefault(holder.customer_id, [])
            # A later row of the same file sees this one.
            existing[row.customer_id] = record
            lines_of.setdefault(row.customer_id, []).append(line)
            outcome = "created" if merge.created else "updated" if merge.changed else "unchanged"
            outcomes.append((line, row.customer_id, (outcome, "")))
        if not report.dry_run:
            rejected = self._write_customers(list(changed.values()), list(claims_changed.values()))
            if rejected:
                reason = "the customer changed while this import was writing it: import the file again"
                lost = {line for customer_id in rejected for line in lines_of.get(customer_id, [])}
                outcomes = [(ln, i, ("rejected", reason) if ln in lost else o) for ln, i, o in outcomes]
                self._claims.clear()  # what is stored is what the next chunk must see
                self._claims_read.clear()
        _count(report, outcomes)

    def _read_claims(self, fingerprints: Iterable[str]) -> None:
        """Each fingerprint is read once per import (a TIN nobody holds yet included)."""
        missing = set(fingerprints) - self._claims_read
        if missing:
            self._claims.update(self.repository.tin_claims(missing))
            self._claims_read |= missing

    def _move_claim(
        self,
        customer_id: str,
        old: str | None,
        new: str | None,
        changed: dict[str, TinClaimRecord],
        now: datetime,
    ) -> None:
        if old:
            self._read_claims([old])
            claim = self._claims.get(old)
            if claim is not None and customer_id in claim.holders():
                claim.customer_ids = (claim.holders() - {customer_id}) or None
                claim.updated_at = now
                changed[old] = claim
        if new:
            self._read_claims([new])
            claim = self._claims.setdefault(new, TinClaimRecord(new, updated_at=now))
            claim.customer_ids = claim.holders() | {customer_id}
            claim.updated_at = now
            changed[new] = claim

    def _write_customers(self, customers: list[CustomerRecord], claims: list[TinClaimRecord]) -> set[str]:
        """Writes in transactions of up to 100 items; returns the customers of any transaction that lost
        a race (nothing of it was written)."""
        writes = [Write(c) for c in customers] + [Write(c) for c in claims]
        lost: set[str] = set()
        for start in range(0, len(writes), TRANSACTION_ITEMS):
            batch = writes[start : start + TRANSACTION_ITEMS]
            try:
                self.repository.commit(batch)
            except ConflictError:
                lost |= {w.record.customer_id for w in batch if isinstance(w.record, CustomerRecord)}
                lost |= {c for w in batch if isinstance(w.record, TinClaimRecord) for c in w.record.holders()}
        return lost

    def _flag_tin_holders(
        self, holders: list[str], claimant: str, known: dict[str, CustomerRecord]
    ) -> list[CustomerRecord]:
        """Both sides of a shared TIN need attention, not only the customer imported last."""
        flagged = []
        unknown = [h for h in holders if h not in known]
        if unknown:
            known.update(self.repository.customers(unknown))
        for holder_id in holders:
            holder = known.get(holder_id)
            if holder is not None and flag_shared_tin(holder, claimant, self.clock()):
                flagged.append(holder)
        return flagged

    def _tin_owners(self, fingerprint: str) -> list[str]:
        """Customers holding a TIN: its claim as stored, kept current by the earlier rows of this import."""
        self._read_claims([fingerprint])
        claim = self._claims.get(fingerprint)
        return sorted(claim.holders()) if claim else []

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
        """A chunk's invoices are read in one batch, and the writes of several customers share a transaction
        (each customer's own items kept together, its customer item guarding them); a transaction that loses
        a race is redone customer by customer from what is stored."""
        parsed: list[tuple[int, InvoiceRow]] = self._parse(rows, parse_invoice, report)
        customers = self._customers_of(row.customer_id for _, row in parsed)
        by_customer: dict[str, list[tuple[int, InvoiceRow]]] = {}
        for line, row in parsed:
            if row.customer_id not in customers:
                report.reject(line, f"customer {row.customer_id} is not known: import customers first", row.invoice_id)
                continue
            by_customer.setdefault(row.customer_id, []).append((line, row))
        stored = self.repository.invoices(row.invoice_id for _, row in parsed)
        self._prefetch_customers(by_customer)
        planned: list[_Planned] = []
        for customer_id, items in by_customer.items():
            try:
                ledger, writes, outcomes = self._plan_invoices(customer_id, items, stored)
                check_item_sizes(writes)
            except DomainError:
                self._ledgers.pop(customer_id, None)
                self._with_retries(customer_id, items, report, self._upsert_invoices)
                continue
            planned.append(_Planned(customer_id, items, ledger, writes, outcomes))
        if report.dry_run:
            for plan in planned:
                _count(report, plan.outcomes)
            return
        for group in _pack(planned):
            self._commit_group(group, report)

    def _commit_group(self, group: list[_Planned], report: ImportReport) -> None:
        if len(group) == 1 and len(group[0].writes) > TRANSACTION_ITEMS:
            plan = group[0]
            try:
                self._commit(plan.ledger, plan.writes, dry_run=False)
            except ConflictError:
                self._ledgers.pop(plan.customer_id, None)
                self._with_retries(plan.customer_id, plan.items, report, self._upsert_invoices)
                return
            _count(report, plan.outcomes)
            return
        writes = [w for plan in group for w in plan.writes]
        if writes:
            now = self.clock()
            for plan in group:
                plan.ledger.customer.updated_at = now
        try:
            if writes:
                self.repository.commit(writes)
        except ConflictError:
            for plan in group:  # nothing of the transaction was written: redo each customer alone
                self._ledgers.pop(plan.customer_id, None)
                self._with_retries(plan.customer_id, plan.items, report, self._upsert_invoices)
            return
        for plan in group:
            _count(report, plan.outcomes)

    def _upsert_invoices(self, customer_id: str, items: list[tuple[int, InvoiceRow]], report: ImportReport) -> None:
        stored = self.repository.invoices(row.invoice_id for _, row in items)
        ledger, writes, outcomes = self._plan_invoices(customer_id, items, stored)
        self._commit(ledger, writes, report.dry_run)
        _count(report, outcomes)

    def _plan_invoices(
        self, customer_id: str, items: list[tuple[int, InvoiceRow]], stored: dict[str, InvoiceRecord]
    ) -> tuple[CustomerLedger, list[Write], list[tuple[int, str, Outcome]]]:
        ledger = self._ledger(customer_id, full=False)
        records: list[InvoiceRecord] = []
        created: set[str] = set()
        merged: set[str] = set()
        outcomes: list[tuple[int, str, Outcome]] = []
        now = self.clock()
        for line, row in items:
            found = stored.get(row.invoice_id)
            existing = ledger.invoices.get(row.invoice_id, found) if found is not None and ledger.full else found
            try:
                merge = merge_invoice(row, existing, now)
            except DomainError as exc:
                outcomes.append((line, row.invoice_id, ("rejected", exc.message)))
                continue
            records.append(merge.record)
            if merge.created:
                created.add(row.invoice_id)
            elif merge.changed:
                merged.add(row.invoice_id)
            outcome = "created" if merge.created else "updated" if merge.changed else "unchanged"
            outcomes.append((line, row.invoice_id, (outcome, "")))
        writes = ledger.upsert_invoices(records, created, merged) if records else []
        return ledger, writes, outcomes

    # --- payments and credit notes -----------------------------------------------------------------

    def _payments(self, rows: list[SourceRow], report: ImportReport) -> None:
        self._documents(self._parse(rows, parse_payment, report), report)

    def _credits(self, rows: list[SourceRow], report: ImportReport) -> None:
        self._documents(self._parse(rows, parse_credit, report), report)

    def _documents(self, parsed: Sequence[tuple[int, DocumentRow]], report: ImportReport) -> None:
        self._documents_seen, self._documents_read = {}, set()
        if parsed:
            self._stored_documents([row for _, row in parsed])
        customers = self._customers_of(row.customer_id for _, row in parsed)
        named = self.repository.invoices(row.invoice_id for _, row in parsed if row.invoice_id)
        by_customer: dict[str, list[tuple[int, DocumentRow]]] = {}
        for line, row in parsed:
            if row.customer_id not in customers:
                report.reject(line, f"customer {row.customer_id} is not known: import customers first", _doc_id(row))
                continue
            warning = _named_invoice_warning(row, named.get(row.invoice_id) if row.invoice_id else None)
            if warning:
                report.warn(line, warning, _doc_id(row))
            by_customer.setdefault(row.customer_id, []).append((line, row))
        self._prefetch_customers(by_customer)
        for customer_id, items in by_customer.items():
            self._with_retries(customer_id, items, report, self._add_documents)

    def _stored_documents(self, rows: Sequence[DocumentRow]) -> dict[str, DocumentRecord]:
        """The stored documents of these rows' ids: one batch read for a chunk, again for a retried customer."""
        missing = [_doc_id(row) for row in rows if _doc_id(row) not in self._documents_read]
        if missing:
            found = (
                self.repository.payments(missing)
                if isinstance(rows[0], PaymentRow)
                else self.repository.credit_notes(missing)
            )
            self._documents_seen.update(found)
            self._documents_read.update(missing)
        return {i: self._documents_seen[i] for i in (_doc_id(row) for row in rows) if i in self._documents_seen}

    def _add_documents(self, customer_id: str, items: list[tuple[int, DocumentRow]], report: ImportReport) -> None:
        ledger = self._ledger(customer_id, full=True)
        stored = self._stored_documents([row for _, row in items])
        now = self.clock()
        records: list[DocumentRecord] = []
        outcomes: list[tuple[int, str, Outcome]] = []
        for line, row in items:
            doc_id = _doc_id(row)
            known = stored.get(doc_id) or ledger.documents.get(_doc_key(row))
            if known is None:
                records.append(_new_document(row, now))
                outcomes.append((line, doc_id, ("created", "")))
            elif _same_document(row, known):
                outcomes.append((line, doc_id, ("unchanged", "")))
            else:
                outcomes.append((line, doc_id, ("rejected", _differs(row, known))))
        writes = ledger.add_documents(records) if records else []
        self._commit(ledger, writes, report.dry_run)
        _count(report, outcomes)

    # --- a customer's ledger -----------------------------------------------------------------------

    def _prefetch_customers(self, customer_ids: Iterable[str]) -> None:
        """The customer items of a chunk's ledgers not in memory, in one batch read (not one per customer)."""
        missing = set(customer_ids) - self._ledgers.keys() - self._prefetched.keys()
        if missing:
            self._prefetched.update(self.repository.customers(missing))

    def _ledger(self, customer_id: str, *, full: bool) -> CustomerLedger:
        """The customer's ledger, read once per import (light until a document needs it whole)."""
        ledger = self._ledgers.get(customer_id)
        if ledger is not None and (ledger.full or not full):
            self._ledgers.move_to_end(customer_id)
            return ledger
        customer = self._prefetched.pop(customer_id, None) or self.repository.customers([customer_id]).get(customer_id)
        if customer is None:
            raise ConflictError(f"customer {customer_id} is not known: import customers first")
        if full or int(customer.document_count or 0) > 0 or customer.ledger_dirty:
            ledger = self._load_full(customer)
        else:
            ledger = CustomerLedger(customer, full=False)
        self._ledgers[customer_id] = ledger
        if len(self._ledgers) > LEDGER_CACHE_SIZE:
            self._ledgers.popitem(last=False)
        return ledger

    def _load_full(self, customer: CustomerRecord) -> CustomerLedger:
        customer_id = customer.customer_id
        for attempt in range(INDEX_ATTEMPTS):
            invoice_ids = self.repository.customer_invoice_ids(customer_id)
            payment_ids, credit_ids = self.repository.customer_document_ids(customer_id)
            if len(set(invoice_ids)) >= int(customer.invoice_count or 0) and len(set(payment_ids)) + len(
                set(credit_ids)
            ) >= int(customer.document_count or 0):
                break
            self.sleep(INDEX_BACKOFF_S * 2**attempt)
        else:
            raise ConflictError(
                f"customer {customer_id}'s indexes are still catching up with recent writes; import the file again"
            )
        invoices = self.repository.invoices(invoice_ids)
        documents: dict[tuple[str, str], DocumentRecord] = {}
        for payment in self.repository.payments(payment_ids).values():
            documents[document_key(payment)] = payment
        for credit in self.repository.credit_notes(credit_ids).values():
            documents[document_key(credit)] = credit
        ledger = CustomerLedger(
            customer,
            full=True,
            invoices={i.invoice_id: i for i in invoices.values() if i.customer_id == customer_id},
            documents=documents,
        )
        if customer.ledger_dirty:
            self._commit(ledger, ledger.settle_everything(), dry_run=False)
        return ledger

    def _with_retries(
        self,
        customer_id: str,
        items: Sequence[tuple[int, Any]],
        report: ImportReport,
        attempt: Callable[[str, Any, ImportReport], None],
    ) -> None:
        """A concurrent writer to the same customer is not the rows' fault: read again and redo, a few times."""
        for tries in range(COMMIT_ATTEMPTS):
            try:
                attempt(customer_id, items, report)
                return
            except ConflictError as exc:
                self._ledgers.pop(customer_id, None)
                self._prefetched.pop(customer_id, None)
                self._documents_read -= {_row_id(row) for _, row in items}  # a concurrent import may have them
                if tries == COMMIT_ATTEMPTS - 1:
                    reason = f"{exc.message}: import the file again"
            except ValidationError as exc:
                self._ledgers.pop(customer_id, None)
                reason = exc.message
                break
        for line, row in items:
            report.reject(line, reason, _row_id(row))

    def _commit(self, ledger: CustomerLedger, writes: list[Write], dry_run: bool) -> None:
        """One transaction when it fits; otherwise several, the customer marked dirty until the last lands so
        an interruption is finished by the next import that reads this customer."""
        if dry_run or not writes:
            return
        check_item_sizes(writes)
        customer = ledger.customer
        # New documents first: they are the ledger's source of truth, everything else is derived from them.
        others = sorted((w for w in writes if w.record is not customer), key=lambda w: not w.new)
        per_transaction = TRANSACTION_ITEMS - 1
        batches = [others[i : i + per_transaction] for i in range(0, len(others), per_transaction)] or [[]]
        for number, batch in enumerate(batches, start=1):
            customer.ledger_dirty = number < len(batches)
            customer.updated_at = self.clock()
            self.repository.commit([*batch, Write(customer)])

    # --- shared steps ------------------------------------------------------------------------------

    def _parse(
        self, rows: list[SourceRow], parser: Callable[[dict[str, str]], _Row], report: ImportReport
    ) -> list[tuple[int, _Row]]:
        """Rows that can be stored; a rejected row is reported by its own id column's value (never another
        column's, which could be a TIN). A row repeating an id this file already gave is harmless when it says
        the same (an export that lists a customer on each of its invoices) and an error when it does not: which
        one is right is for the user to say, not for the order of the lines."""
        id_column = ID_COLUMN[self._kind]
        parsed = []
        for source_row in rows:
            record_id = source_row.values.get(id_column, "").strip() or None
            try:
                row = parser(source_row.values)
            except DomainError as exc:
                report.reject(source_row.line, exc.message, record_id if record_id and len(record_id) <= 128 else None)
                continue
            row_id = _row_id(row)
            first = self._lines_by_id.get(row_id)
            if first is not None:
                if first[1] == hash(row):
                    report.count("unchanged")
                else:
                    report.reject(
                        source_row.line,
                        f"duplicate of line {first[0]} ({id_column} {row_id}) with other values",
                        row_id,
                    )
                continue
            self._lines_by_id[row_id] = (source_row.line, hash(row))
            parsed.append((source_row.line, row))
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


@dataclass
class _Planned:
    """One customer's share of a chunk, merged and derived, not yet written."""

    customer_id: str
    items: list[tuple[int, InvoiceRow]]
    ledger: CustomerLedger
    writes: list[Write]
    outcomes: list[tuple[int, str, Outcome]]


def _pack(planned: list[_Planned]) -> Iterator[list[_Planned]]:
    """Customers' writes packed into transactions of at most 100 items, no customer split across two (one
    too large for a transaction goes alone, through the multi-transaction commit)."""
    group: list[_Planned] = []
    size = 0
    for plan in planned:
        if not plan.writes:
            yield [plan]
            continue
        if len(plan.writes) > TRANSACTION_ITEMS:
            yield [plan]
            continue
        if size + len(plan.writes) > TRANSACTION_ITEMS:
            yield group
            group, size = [], 0
        group.append(plan)
        size += len(plan.writes)
    if group:
        yield group


def _header_preview(header: list[str], limit: int = 20) -> str:
    shown = ", ".join(quoted(name) for name in header[:limit])
    return shown + (f", … ({len(header) - limit} more)" if len(header) > limit else "")


def _row_id(row: Any) -> str:
    return str(getattr(row, ID_COLUMN_BY_ROW[type(row)]))


ID_COLUMN_BY_ROW: dict[type, str] = {
    CustomerRow: "customer_id",
    InvoiceRow: "invoice_id",
    PaymentRow: "payment_id",
    CreditRow: "credit_id",
}


def _doc_id(row: DocumentRow) -> str:
    return row.payment_id if isinstance(row, PaymentRow) else row.credit_id


def _doc_key(row: DocumentRow) -> tuple[str, str]:
    return (PAYMENT, row.payment_id) if isinstance(row, PaymentRow) else (CREDIT_NOTE, row.credit_id)


def _doc_date(row: DocumentRow) -> str:
    return (row.paid_on if isinstance(row, PaymentRow) else row.credited_on).isoformat()


def _new_document(row: DocumentRow, now: datetime) -> DocumentRecord:
    if isinstance(row, PaymentRow):
        return PaymentRecord(
            row.payment_id,
            customer_id=row.customer_id,
            paid_on=row.paid_on.isoformat(),
            currency=row.currency,
            amount_minor=row.amount_minor,
            invoice_id=row.invoice_id,
            method=row.method,
            source="erp",
            status="settled",
            allocations=[],
            unapplied_minor=0,
            created_at=now,
        )
    return CreditNoteRecord(
        row.credit_id,
        customer_id=row.customer_id,
        credited_on=row.credited_on.isoformat(),
        currency=row.currency,
        amount_minor=row.amount_minor,
        invoice_id=row.invoice_id,
        reason=row.reason,
        source="erp",
        allocations=[],
        unapplied_minor=0,
        created_at=now,
    )


def _stored_date(record: DocumentRecord) -> str:
    return record.paid_on if isinstance(record, PaymentRecord) else record.credited_on


def _same_document(row: DocumentRow, stored: DocumentRecord) -> bool:
    """The same document again (a re-imported file): same customer, date, currency, amount and invoice."""
    return (
        stored.customer_id == row.customer_id
        and _stored_date(stored) == _doc_date(row)
        and stored.currency == row.currency
        and int(stored.amount_minor) == row.amount_minor
        and (stored.invoice_id or None) == row.invoice_id
    )


def _differs(row: DocumentRow, stored: DocumentRecord) -> str:
    label = "payment" if isinstance(row, PaymentRow) else "credit note"
    return (
        f"{label} {_doc_id(row)} is already recorded with other details ({_stored_date(stored)}, "
        f"{int(stored.amount_minor)} minor units {stored.currency}, customer {stored.customer_id}, "
        f"invoice {stored.invoice_id or '-'})"
    )


def _named_invoice_warning(row: DocumentRow, invoice: InvoiceRecord | None) -> str | None:
    """A document naming an invoice it cannot pay is kept, as the customer's credit, and said."""
    label = "payment" if isinstance(row, PaymentRow) else "credit note"
    if row.invoice_id is None:
        return None
    if invoice is None:
        return f"invoice {row.invoice_id} is not known yet: the {label} is held as credit until it is imported"
    if invoice.customer_id != row.customer_id:
        return f"invoice {row.invoice_id} belongs to another customer: the {label} is held as credit"
    if invoice.currency != row.currency:
        return f"invoice {row.invoice_id} is in {invoice.currency}: the {label} ({row.currency}) is held as credit"
    return None


def _count(report: ImportReport, outcomes: list[tuple[int, str, Outcome]]) -> None:
    for line, record_id, (outcome, reason) in outcomes:
        if outcome == "rejected":
            report.reject(line, reason, record_id)
        else:
            report.count(outcome)  # type: ignore[arg-type]


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
    # The system's today (`arcollect local --today`) reaches the drop folder's imports too.
    return LedgerImporter(repository=LedgerRepository(), vault=vault, clock=clock or clock_for(settings.today))
