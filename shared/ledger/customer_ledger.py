"""One customer's ledger in memory: its invoices, payments and credit notes, re-allocated as a whole
(shared/ledger/allocation.py) whenever one of them changes, and the records that changed as a result.

Two modes keep imports cheap. A customer without any payment or credit note needs none of its other
invoices read: each invoice's balance stands alone and the customer's open balance moves by the
difference (*light*). A customer with documents is loaded whole once per import and re-allocated per
currency (*full*). Either way the customer item is written in the same transaction as every invoice and
document it summarises, guarded by its version, so concurrent writers to one customer are serialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from shared.data.tables import (
    NEXT_ACTION_SHARDS,
    ActivityRecord,
    AllocationMap,
    AppliedPaymentMap,
    CreditNoteRecord,
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    TinClaimRecord,
    shard_of,
)
from shared.ledger.allocation import CREDIT_NOTE, PAYMENT, Document, GroupInvoice, GroupResult, allocate_group
from shared.money import format_money

# Until the dunning planner has looked at an invoice, its first possible touch is this old (PRODUCT.md
# 1.3 rule 1); the planner moves the date on from there.
FIRST_TOUCH_MIN_AGE_DAYS = 14

DocumentRecord = PaymentRecord | CreditNoteRecord
LedgerRecord = CustomerRecord | InvoiceRecord | PaymentRecord | CreditNoteRecord | ActivityRecord | TinClaimRecord


@dataclass
class Write:
    """One item of a ledger commit; `new` items must not exist yet (a document is applied exactly once)."""

    record: LedgerRecord
    new: bool = False


def document_of(record: DocumentRecord) -> Document:
    if isinstance(record, PaymentRecord):
        return Document(
            PAYMENT, record.payment_id, record.paid_on, int(record.amount_minor), record.invoice_id, record.source
        )
    return Document(
        CREDIT_NOTE, record.credit_id, record.credited_on, int(record.amount_minor), record.invoice_id, record.source
    )


def group_invoice(record: InvoiceRecord) -> GroupInvoice:
    return GroupInvoice(
        invoice_id=record.invoice_id,
        issue_date=record.issue_date,
        due_date=record.due_date,
        amount_minor=int(record.amount_minor),
        erp_balance_minor=None if record.erp_balance_minor is None else int(record.erp_balance_minor),
        erp_balance_on=record.erp_balance_on,
    )


def document_key(record: DocumentRecord) -> tuple[str, str]:
    return document_of(record).key


@dataclass
class CustomerLedger:
    customer: CustomerRecord
    full: bool
    invoices: dict[str, InvoiceRecord] = field(default_factory=dict)
    documents: dict[tuple[str, str], DocumentRecord] = field(default_factory=dict)

    # --- changes ---------------------------------------------------------------------------------------

    def upsert_invoices(self, records: list[InvoiceRecord], created: set[str], merged: set[str]) -> list[Write]:
        """Invoices merged from import rows: new ones in `created`, ones whose imported fields changed in
        `merged`. Their balances are still the stored ones; returns every write they cause."""
        old_balances = {
            i.invoice_id: (i.currency, int(i.balance_minor)) for i in records if i.invoice_id not in created
        }
        for record in records:
            self.invoices[record.invoice_id] = record
        self.customer.invoice_count = int(self.customer.invoice_count or 0) + len(created)
        if not self.full:
            return self._light(records, created | merged, old_balances)
        currencies = {r.currency for r in records} | {c for c, _ in old_balances.values()}
        writes = self._reallocate(currencies, new_documents=set())
        written = {id(w.record) for w in writes}
        writes.extend(Write(r) for r in records if r.invoice_id in created | merged and id(r) not in written)
        return self._with_customer(writes)

    def add_documents(self, records: list[DocumentRecord]) -> list[Write]:
        """New payments or credit notes (never stored before); returns every write they cause."""
        keys = set()
        for record in records:
            key = document_key(record)
            self.documents[key] = record
            keys.add(key)
        self.customer.document_count = int(self.customer.document_count or 0) + len(records)
        self.full = True
        writes = self._reallocate({r.currency for r in records}, new_documents=keys)
        return self._with_customer(writes)

    def settle_everything(self) -> list[Write]:
        """Re-derive every currency (after an interrupted commit left the customer dirty)."""
        currencies = {i.currency for i in self.invoices.values()} | {d.currency for d in self.documents.values()}
        currencies |= set(self.customer.open_balances()) | set(self.customer.credit_balances())
        return self._with_customer(self._reallocate(currencies, new_documents=set()))

    # --- derivation ------------------------------------------------------------------------------------

    def _light(
        self, records: list[InvoiceRecord], merged: set[str], old_balances: dict[str, tuple[str, int]]
    ) -> list[Write]:
        open_minor = self.customer.open_balances()
        open_count = int(self.customer.open_invoices or 0)
        writes = []
        for record in records:
            derived = _derived(record) if record.invoice_id in old_balances else None
            _apply_invoice_result(record, allocate_group([group_invoice(record)], []), record.invoice_id)
            if record.invoice_id in old_balances:
                currency, old = old_balances[record.invoice_id]
                open_minor[currency] = open_minor.get(currency, 0) - old
                open_count -= old > 0
            open_minor[record.currency] = open_minor.get(record.currency, 0) + int(record.balance_minor)
            open_count += int(record.balance_minor) > 0
            if record.invoice_id in merged or _derived(record) != derived:
                writes.append(Write(record))
        self.customer.open_minor = {c: v for c, v in sorted(open_minor.items()) if v}
        self.customer.open_invoices = open_count
        return self._with_customer(writes)

    def _reallocate(self, currencies: set[str], new_documents: set[tuple[str, str]]) -> list[Write]:
        writes: list[Write] = []
        open_minor = self.customer.open_balances()
        credit = self.customer.credit_balances()
        for currency in sorted(currencies):
            invoices = [i for i in self.invoices.values() if i.currency == currency]
            documents = [d for d in self.documents.values() if d.currency == currency]
            result = allocate_group([group_invoice(i) for i in invoices], [document_of(d) for d in documents])
            for invoice in invoices:
                derived = _derived(invoice)
                _apply_invoice_result(invoice, result, invoice.invoice_id)
                if _derived(invoice) != derived:
                    writes.append(Write(invoice))
            for document in documents:
                key = document_key(document)
                changed = _apply_document_result(document, result, key)
                if key in new_documents:
                    writes.append(Write(document, new=True))
                    writes.append(Write(_activity(document)))
                elif changed:
                    writes.append(Write(document))
                    writes.append(Write(_activity(document)))
            open_minor[currency] = result.open_minor
            credit[currency] = result.credit_minor
        self.customer.open_minor = {c: v for c, v in sorted(open_minor.items()) if v}
        self.customer.credit_minor = {c: v for c, v in sorted(credit.items()) if v}
        self.customer.open_invoices = sum(1 for i in self.invoices.values() if int(i.balance_minor) > 0)
        return writes

    def _with_customer(self, writes: list[Write]) -> list[Write]:
        """The customer item closes every commit: its version serialises writers to this customer."""
        return [*writes, Write(self.customer)] if writes else []


def _derived(record: InvoiceRecord) -> tuple[object, ...]:
    """What the ledger derives on an invoice: comparing these is far cheaper than serialising it."""
    applied = tuple((a.kind, a.payment_id, a.paid_on, int(a.amount_minor), a.source) for a in record.applied or [])
    return (
        applied,
        record.balance_minor,
        record.erp_settled_minor,
        record.status,
        record.paid_on,
        record.next_action_date,
        record.next_action_shard,
    )


def _apply_invoice_result(record: InvoiceRecord, result: GroupResult, invoice_id: str) -> None:
    figures = result.invoices[invoice_id]
    record.applied = [
        AppliedPaymentMap(
            payment_id=a.doc_id, paid_on=a.dated, amount_minor=a.amount_minor, source=a.source, kind=a.kind
        )
        for a in figures.applied
    ]
    record.balance_minor = figures.balance_minor
    record.erp_settled_minor = figures.erp_settled_minor
    if figures.balance_minor == 0:
        record.status = "paid"
        record.paid_on = figures.paid_on
        record.next_action_shard = None
        record.next_action_date = None
        return
    record.status = "open"
    record.paid_on = None
    if record.next_action_date is None:
        first_touch = date.fromisoformat(record.issue_date) + timedelta(days=FIRST_TOUCH_MIN_AGE_DAYS)
        record.next_action_date = first_touch.isoformat()
    record.next_action_shard = shard_of(record.invoice_id, NEXT_ACTION_SHARDS)


def _apply_document_result(record: DocumentRecord, result: GroupResult, key: tuple[str, str]) -> bool:
    figures = result.documents[key]
    allocations = [AllocationMap(invoice_id=i, amount_minor=a) for i, a in figures.allocations]
    old = [(a.invoice_id, int(a.amount_minor)) for a in record.allocations or []]
    changed = old != list(figures.allocations) or int(record.unapplied_minor or 0) != figures.unapplied_minor
    record.allocations = allocations
    record.unapplied_minor = figures.unapplied_minor
    return changed


def _activity(record: DocumentRecord) -> ActivityRecord:
    """The document on the customer's timeline, on its own date; re-recorded (same key) when its allocation
    moves, so the timeline says where the money went now."""
    doc = document_of(record)
    label = "Payment" if doc.kind == PAYMENT else "Credit note"
    kind = "payment" if doc.kind == PAYMENT else "credit_note"
    summary = f"{label} {doc.doc_id} of {format_money(doc.amount_minor, record.currency)}"
    if record.unapplied_minor:
        summary += f"; {format_money(int(record.unapplied_minor), record.currency)} kept as credit"
    details: dict[str, object] = {"id": doc.doc_id, "source": doc.source}
    if isinstance(record, PaymentRecord) and record.method:
        details["method"] = record.method
    if isinstance(record, CreditNoteRecord) and record.reason:
        details["reason"] = record.reason
    occurred = datetime.combine(date.fromisoformat(doc.dated), datetime.min.time(), tzinfo=UTC)
    return ActivityRecord(
        record.customer_id,
        f"{doc.dated}T00:00:00Z#{kind}#{doc.doc_id}",
        kind=kind,
        invoice_ids=[a.invoice_id for a in record.allocations or []],
        summary=summary,
        details=details,
        occurred_at=occurred,
    )
