"""Allocating a customer's payments and credit notes to its invoices: one pure function of the *set* of
documents and invoices of one customer in one currency.

The ledger never applies a payment "on top of" what is stored. Whenever a document or an invoice of a
customer changes, the whole group (one customer, one currency) is allocated again from scratch, in an order that
depends only on the documents themselves:

1. documents naming an invoice, by (date, kind, id): each covers what its invoice still owes;
2. documents naming none, by (date, kind, id): each pays the open invoices oldest due first;
3. whatever a document could not place is the customer's credit in that currency.

So the stored result is the same whatever order the rows arrived in and however often they were repeated,
and money is conserved by construction: every document's amount is the sum of its allocations and its
unapplied rest, and the customer's credit is the sum of the unapplied rests (docs/data-model.md#balances).

The ERP's balance column. An invoice imported with a `balance` tells what the ERP still expected on the
day it was imported (`erp_balance_on`); the ERP had counted its own payments dated up to that day. So a
document is *countable* when it came from the ERP and is dated on or before that day: it may explain part
of the reduction the ERP already shows (amount minus ERP balance) without lowering the balance further. What
the ERP shows as settled that no known document explains is `erp_settled` — reported per invoice, so that
for each customer and currency

    sum(documents) = sum(amount - balance - erp_settled over its invoices) + credit

holds to the cent, and with no balance column (or one the documents fully explain) `erp_settled` is 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

PAYMENT = "payment"
CREDIT_NOTE = "credit"


@dataclass(frozen=True, slots=True)
class GroupInvoice:
    invoice_id: str
    issue_date: str  # ISO dates compare as strings
    due_date: str
    amount_minor: int
    erp_balance_minor: int | None = None
    erp_balance_on: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """A payment or a credit note: money the customer is owed back or has paid."""

    kind: str  # payment | credit
    doc_id: str
    dated: str  # ISO date
    amount_minor: int
    invoice_id: str | None = None  # the invoice the document names, if any
    source: str = "erp"  # erp | stripe | manual

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.doc_id)


@dataclass(frozen=True, slots=True)
class Applied:
    """One document's share on one invoice."""

    kind: str
    doc_id: str
    dated: str
    amount_minor: int
    source: str


@dataclass(frozen=True, slots=True)
class InvoiceResult:
    applied: tuple[Applied, ...]
    balance_minor: int
    erp_settled_minor: int  # what the ERP shows as settled that no known document explains
    paid_on: str | None  # the day the balance reached zero, if it did


@dataclass(frozen=True, slots=True)
class DocumentResult:
    allocations: tuple[tuple[str, int], ...]  # (invoice id, minor units), in allocation order
    unapplied_minor: int


@dataclass(frozen=True)
class GroupResult:
    invoices: dict[str, InvoiceResult]
    documents: dict[tuple[str, str], DocumentResult]
    credit_minor: int = 0
    open_minor: int = 0
    open_invoices: int = 0
    erp_settled_minor: int = 0
    documents_minor: int = 0


@dataclass
class _Working:
    invoice: GroupInvoice
    countable: int = 0  # documents the ERP's balance may already count
    uncounted: int = 0  # documents it cannot have counted
    applied: list[Applied] = field(default_factory=list)

    def is_countable(self, doc: Document) -> bool:
        on = self.invoice.erp_balance_on
        return self.invoice.erp_balance_minor is not None and doc.source == "erp" and on is not None and doc.dated <= on

    @property
    def balance(self) -> int:
        known = self.invoice.amount_minor - self.countable - self.uncounted
        if self.invoice.erp_balance_minor is None:
            return known
        return min(self.invoice.erp_balance_minor - self.uncounted, known)

    def capacity(self, doc: Document, *, named: bool) -> int:
        """A countable document naming this invoice may cover any part no known document covers (the ERP's
        balance may already count it); anything else only pays what is still owed."""
        if named and self.is_countable(doc):
            return self.invoice.amount_minor - self.countable - self.uncounted
        return self.balance

    def apply(self, doc: Document, amount: int) -> None:
        if self.is_countable(doc):
            self.countable += amount
        else:
            self.uncounted += amount
        self.applied.append(Applied(doc.kind, doc.doc_id, doc.dated, amount, doc.source))


def allocation_order(documents: Iterable[Document]) -> list[Document]:
    """Named documents first, then the rest; each by (date, kind, id): a function of the set alone."""
    return sorted(documents, key=lambda d: (d.invoice_id is None, d.dated, d.kind, d.doc_id))


def allocate_group(invoices: Iterable[GroupInvoice], documents: Iterable[Document]) -> GroupResult:
    """Allocate every document of one customer in one currency to that customer's invoices in it."""
    docs = _unique(documents)
    working = {i.invoice_id: _Working(i) for i in invoices}
    oldest_first = sorted(
        working.values(), key=lambda w: (w.invoice.due_date, w.invoice.issue_date, w.invoice.invoice_id)
    )
    doc_results: dict[tuple[str, str], DocumentResult] = {}
    for doc in allocation_order(docs):
        if doc.amount_minor <= 0:
            raise ValueError(f"{doc.kind} {doc.doc_id}: an amount must be positive")
        remaining = doc.amount_minor
        allocations: list[tuple[str, int]] = []
        if doc.invoice_id is not None:
            targets = [working[doc.invoice_id]] if doc.invoice_id in working else []
        else:
            targets = oldest_first
        for target in targets:
            if remaining == 0:
                break
            share = min(remaining, target.capacity(doc, named=doc.invoice_id is not None))
            if share > 0:
                target.apply(doc, share)
                allocations.append((target.invoice.invoice_id, share))
                remaining -= share
        doc_results[doc.key] = DocumentResult(tuple(allocations), remaining)

    invoice_results: dict[str, InvoiceResult] = {}
    for invoice_id, w in working.items():
        balance = w.balance
        settled = w.invoice.amount_minor - balance - w.countable - w.uncounted
        paid_on = None
        if balance == 0:
            paid_on = max((a.dated for a in w.applied), default=None) or w.invoice.erp_balance_on
        invoice_results[invoice_id] = InvoiceResult(tuple(w.applied), balance, settled, paid_on)
    open_balances = [r.balance_minor for r in invoice_results.values() if r.balance_minor > 0]
    return GroupResult(
        invoices=invoice_results,
        documents=doc_results,
        credit_minor=sum(r.unapplied_minor for r in doc_results.values()),
        open_minor=sum(open_balances),
        open_invoices=len(open_balances),
        erp_settled_minor=sum(r.erp_settled_minor for r in invoice_results.values()),
        documents_minor=sum(d.amount_minor for d in docs),
    )


def _unique(documents: Iterable[Document]) -> list[Document]:
    """A document counted twice would be money created: the same key is one document."""
    seen: dict[tuple[str, str], Document] = {}
    for doc in documents:
        seen.setdefault(doc.key, doc)
    return list(seen.values())
