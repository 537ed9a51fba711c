"""Balances and payment allocation: pure functions over integer minor units.

An invoice's balance combines two views. The ERP's export may carry a `balance`, true on the day it was
imported and already counting the payments the ERP had by then; arcollect also knows payments one by one
(imported from the ERP, or taken through Stripe). The balance is the smaller of
- the ERP's balance less the payments it cannot have counted (dated after that day, or taken by arcollect),
- the amount less every payment known,
never below zero. So re-importing either file changes nothing, a payment the ERP's balance already counts
is not subtracted twice, and an invoice paid in full by any route reads zero. What a payment cannot be
allocated becomes the customer's credit, never a negative invoice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AppliedPayment:
    payment_id: str
    paid_on: str  # ISO date
    amount_minor: int
    source: str  # erp | stripe | manual


@dataclass(frozen=True)
class InvoiceFigures:
    invoice_id: str
    amount_minor: int
    erp_balance_minor: int | None = None
    erp_balance_on: str | None = None  # ISO date the ERP's balance was imported
    applied: tuple[AppliedPayment, ...] = field(default_factory=tuple)

    @property
    def balance_minor(self) -> int:
        known = self.amount_minor - sum(p.amount_minor for p in self.applied)
        if self.erp_balance_minor is None:
            return max(0, known)
        uncounted = sum(p.amount_minor for p in self.applied if self._after_erp_balance(p))
        return max(0, min(self.erp_balance_minor - uncounted, known))

    @property
    def allocatable_minor(self) -> int:
        """The part of the amount no known payment covers."""
        return max(0, self.amount_minor - sum(p.amount_minor for p in self.applied))

    def _after_erp_balance(self, payment: AppliedPayment) -> bool:
        return payment.source != "erp" or self.erp_balance_on is None or payment.paid_on > self.erp_balance_on


@dataclass(frozen=True)
class Allocation:
    invoice_id: str
    amount_minor: int


def allocate(amount_minor: int, invoices: Sequence[InvoiceFigures], *, named: bool) -> tuple[list[Allocation], int]:
    """Spread a payment over invoices in the given order (the named invoice, or oldest due first) and return
    the allocations and the unapplied rest. Money for a named invoice may cover any part of it no known
    payment covers (the ERP's balance may already count this very payment); money without an invoice only
    pays what is owed."""
    if amount_minor <= 0:
        raise ValueError("a payment amount must be positive")
    remaining = amount_minor
    allocations: list[Allocation] = []
    for invoice in invoices:
        if remaining == 0:
            break
        cap = invoice.allocatable_minor if named else min(invoice.allocatable_minor, invoice.balance_minor)
        share = min(remaining, cap)
        if share > 0:
            allocations.append(Allocation(invoice.invoice_id, share))
            remaining -= share
    return allocations, remaining
