"""Balance and allocation rules, including the properties the import relies on: no money created or lost,
no negative invoice, and the order of payments does not change where the ledger ends up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.ledger.balance import AppliedPayment, InvoiceFigures, allocate


def invoice(amount: int, erp_balance: int | None = None, erp_on: str | None = None, *applied: AppliedPayment):
    return InvoiceFigures("I1", amount, erp_balance, erp_on, tuple(applied))


def paid(amount: int, on: str = "2026-11-10", source: str = "erp", pid: str = "P") -> AppliedPayment:
    return AppliedPayment(pid, on, amount, source)


def test_without_an_erp_balance_known_payments_reduce_the_amount() -> None:
    assert invoice(10000).balance_minor == 10000
    assert invoice(10000, None, None, paid(4000)).balance_minor == 6000


def test_an_erp_balance_already_counts_the_payments_dated_before_it() -> None:
    # The ERP says 20.00 is left on 2026-11-22 and also exported the 30.00 payment of 2026-11-10.
    figures = invoice(5000, 2000, "2026-11-22", paid(3000, "2026-11-10"))
    assert figures.balance_minor == 2000


def test_payments_after_the_erp_balance_or_taken_by_arcollect_reduce_it() -> None:
    assert invoice(5000, 2000, "2026-11-22", paid(500, "2026-11-23")).balance_minor == 1500
    assert invoice(5000, 2000, "2026-11-22", paid(500, "2026-11-01", source="stripe")).balance_minor == 1500


def test_a_stale_erp_balance_never_hides_a_payment_in_full() -> None:
    # The ERP still says the whole amount is open, but the payment of all of it is known.
    assert invoice(5000, 5000, "2026-11-22", paid(5000, "2026-11-10")).balance_minor == 0


def test_a_named_payment_larger_than_the_invoice_leaves_the_rest_unapplied() -> None:
    allocations, unapplied = allocate(15000, [invoice(10000)], named=True)
    assert [(a.invoice_id, a.amount_minor) for a in allocations] == [("I1", 10000)]
    assert unapplied == 5000


def test_an_unnamed_payment_pays_oldest_first_and_only_what_is_owed() -> None:
    older = InvoiceFigures("OLD", 3000, 1000, "2026-11-22")
    newer = InvoiceFigures("NEW", 2000)
    allocations, unapplied = allocate(4000, [older, newer], named=False)
    assert [(a.invoice_id, a.amount_minor) for a in allocations] == [("OLD", 1000), ("NEW", 2000)]
    assert unapplied == 1000


amounts = st.integers(min_value=1, max_value=10_000_00)


@given(amount=amounts, payments=st.lists(amounts, max_size=8), erp=st.none() | st.integers(0, 10_000_00))
def test_money_is_neither_created_nor_lost(amount: int, payments: list[int], erp: int | None) -> None:
    erp = None if erp is None else min(erp, amount)
    figures = invoice(amount, erp, "2026-11-22")
    credit = 0
    for i, payment in enumerate(payments):
        allocations, unapplied = allocate(payment, [figures], named=True)
        assert sum(a.amount_minor for a in allocations) + unapplied == payment
        credit += unapplied
        applied = tuple(paid(a.amount_minor, "2026-11-23", pid=f"P{i}") for a in allocations)
        figures = InvoiceFigures("I1", amount, erp, "2026-11-22", figures.applied + applied)
        assert 0 <= figures.balance_minor <= amount
    assert sum(p.amount_minor for p in figures.applied) + credit == sum(payments)
    assert sum(p.amount_minor for p in figures.applied) <= amount


@given(amount=amounts, payments=st.lists(amounts, min_size=1, max_size=6), data=st.data())
def test_the_order_of_payments_does_not_change_the_outcome(amount: int, payments: list[int], data) -> None:
    def settle(order: list[int]) -> tuple[int, int]:
        figures, credit = invoice(amount), 0
        for i, payment in enumerate(order):
            allocations, unapplied = allocate(payment, [figures], named=True)
            credit += unapplied
            applied = tuple(paid(a.amount_minor, pid=f"P{i}") for a in allocations)
            figures = InvoiceFigures("I1", amount, None, None, figures.applied + applied)
        return figures.balance_minor, credit

    shuffled = data.draw(st.permutations(payments))
    assert settle(payments) == settle(list(shuffled))
