"""The importer's ledger rules against the in-memory store: one regression test per way the ledger used
to lose or misplace money (issue 5), credit notes, duplicates within a file, and interrupted writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from shared.ledger.customer_ledger import Write
from shared.ledger.importer import LedgerImporter
from tests.unit.ledger_fakes import FakeTinVault, InMemoryLedgerStore

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
INVOICES = "invoice_id,customer_id,issue_date,due_date,currency,amount,balance\n"
PAYMENTS = "payment_id,customer_id,invoice_id,date,amount,currency\n"
CREDITS = "credit_id,customer_id,invoice_id,date,amount,currency,reason\n"


@pytest.fixture
def store() -> InMemoryLedgerStore:
    return InMemoryLedgerStore()


def importer_for(store: InMemoryLedgerStore, now: datetime = NOW) -> LedgerImporter:
    return LedgerImporter(repository=store, vault=FakeTinVault(), clock=lambda: now, sleep=lambda _: None)


def load(store: InMemoryLedgerStore, kind: str, text: str, now: datetime = NOW):  # type: ignore[no-untyped-def]
    return importer_for(store, now).import_file(kind, text.encode(), source=f"{kind}.csv")  # type: ignore[arg-type]


def with_customers(store: InMemoryLedgerStore, *ids: str) -> InMemoryLedgerStore:
    load(store, "customers", "customer_id,legal_name\n" + "".join(f"{c},{c} Ltd\n" for c in ids))
    return store


def balance(store: InMemoryLedgerStore, invoice_id: str) -> int:
    return int(store.invoices([invoice_id])[invoice_id].balance_minor)


def credit(store: InMemoryLedgerStore, customer_id: str = "C1") -> dict[str, int]:
    return store.customers([customer_id])[customer_id].credit_balances()


def test_a_named_payment_dated_after_the_erp_balance_and_larger_than_it_leaves_the_excess_as_credit(
    store: InMemoryLedgerStore,
) -> None:
    with_customers(store, "C1")
    load(store, "invoices", INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,100.00,40.00\n")

    load(store, "payments", PAYMENTS + "P1,C1,I1,2026-03-05,70.00,USD\n")

    assert balance(store, "I1") == 0
    assert credit(store) == {"USD": 3000}


def test_re_importing_a_payment_that_went_wholly_to_credit_changes_nothing(store: InMemoryLedgerStore) -> None:
    with_customers(store, "C1")
    load(store, "invoices", INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,100.00,0.00\n")
    load(store, "payments", PAYMENTS + "P1,C1,I1,2026-03-05,25.00,USD\n")

    again = load(store, "payments", PAYMENTS + "P1,C1,I1,2026-03-05,25.00,USD\n")

    assert (again.rejected, again.unchanged) == (0, 1)
    assert credit(store) == {"USD": 2500}


def test_lowering_an_invoice_amount_below_what_was_paid_moves_the_excess_to_credit(store: InMemoryLedgerStore) -> None:
    with_customers(store, "C1")
    load(store, "invoices", INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,100.00,\n")
    load(store, "payments", PAYMENTS + "P1,C1,I1,2026-02-01,100.00,USD\n")

    load(store, "invoices", INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,60.00,\n")

    assert balance(store, "I1") == 0
    assert credit(store) == {"USD": 4000}


def test_an_unnamed_payment_and_a_payment_naming_the_same_invoice_in_one_file_both_land(
    store: InMemoryLedgerStore,
) -> None:
    with_customers(store, "C1")
    load(
        store,
        "invoices",
        INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,100.00,\nI2,C1,2026-01-02,2026-02-01,USD,50.00,\n",
    )

    report = load(store, "payments", PAYMENTS + "P1,C1,,2026-02-01,100.00,USD\nP2,C1,I1,2026-02-02,100.00,USD\n")

    assert (report.created, report.rejected) == (2, 0)
    assert (balance(store, "I1"), balance(store, "I2")) == (0, 0)
    assert credit(store) == {"USD": 5000}


def test_an_unnamed_payment_spread_over_hundreds_of_invoices_lands_whole(store: InMemoryLedgerStore) -> None:
    with_customers(store, "C1")
    rows = "".join(f"I{n:03d},C1,2026-01-01,2026-01-{1 + n % 28:02d},USD,10.00,\n" for n in range(250))
    load(store, "invoices", INVOICES + rows)

    report = load(store, "payments", PAYMENTS + "P1,C1,,2026-02-01,2600.00,USD\n")

    assert report.rejected == 0
    assert all(balance(store, f"I{n:03d}") == 0 for n in range(250))
    assert credit(store) == {"USD": 10000}
    assert store.customers(["C1"])["C1"].ledger_dirty is False


def test_the_same_two_payments_in_either_order_leave_the_same_balances_and_credit() -> None:
    results = []
    for first, second in (("P1,C1,,2026-02-01,80.00,USD\n", "P2,C1,I2,2026-02-03,30.00,USD\n"),) * 1 + (
        ("P2,C1,I2,2026-02-03,30.00,USD\n", "P1,C1,,2026-02-01,80.00,USD\n"),
    ):
        store = with_customers(InMemoryLedgerStore(), "C1")
        load(
            store,
            "invoices",
            INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,50.00,\nI2,C1,2026-01-01,2026-02-15,USD,50.00,\n",
        )
        load(store, "payments", PAYMENTS + first)
        load(store, "payments", PAYMENTS + second)
        results.append((balance(store, "I1"), balance(store, "I2"), credit(store)))

    assert results[0] == results[1] == (0, 0, {"USD": 1000})


def test_a_payment_naming_an_invoice_not_imported_yet_is_held_as_credit_and_applied_when_it_arrives(
    store: InMemoryLedgerStore,
) -> None:
    with_customers(store, "C1")

    report = load(store, "payments", PAYMENTS + "P1,C1,I9,2026-02-01,40.00,USD\n")
    held = credit(store)
    load(store, "invoices", INVOICES + "I9,C1,2026-01-01,2026-01-31,USD,100.00,\n")

    assert report.warnings == 1 and "not known yet" in report.problems[0].reason
    assert held == {"USD": 4000}
    assert (balance(store, "I9"), credit(store)) == (6000, {})


def test_a_credit_note_reduces_its_invoice_once_however_often_it_is_imported(store: InMemoryLedgerStore) -> None:
    with_customers(store, "C1")
    load(store, "invoices", INVOICES + "I1,C1,2026-01-01,2026-01-31,EUR,100.00,\n")

    first = load(store, "credits", CREDITS + "N1,C1,I1,2026-02-01,30.00,EUR,damaged goods\n")
    again = load(store, "credits", CREDITS + "N1,C1,I1,2026-02-01,30.00,EUR,damaged goods\n")

    assert (first.created, again.unchanged) == (1, 1)
    assert balance(store, "I1") == 7000
    assert [a.kind for a in store.invoices(["I1"])["I1"].applied] == ["credit"]


def test_the_timeline_shows_a_payment_on_its_payment_date_not_the_import_day(store: InMemoryLedgerStore) -> None:
    with_customers(store, "C1")
    load(store, "invoices", INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,100.00,\n")

    load(store, "payments", PAYMENTS + "P1,C1,I1,2026-02-01,100.00,USD\n")

    (activity,) = store.activities("C1")
    assert activity.occurred_at.date().isoformat() == "2026-02-01"
    assert activity.kind == "payment" and activity.invoice_ids == ["I1"]


def test_a_second_row_with_an_id_the_file_already_gave_and_other_values_is_reported_as_a_duplicate(
    store: InMemoryLedgerStore,
) -> None:
    with_customers(store, "C1")

    report = load(
        store,
        "invoices",
        INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,100.00,\nI1,C1,2026-01-01,2026-01-31,USD,90.00,\n",
    )

    assert [str(p) for p in report.problems] == ["line 3: duplicate of line 2 (invoice_id I1) with other values"]
    assert int(store.invoices(["I1"])["I1"].amount_minor) == 10000


def test_a_row_repeated_word_for_word_in_one_file_is_harmless(store: InMemoryLedgerStore) -> None:
    report = load(store, "customers", "customer_id,legal_name\nC1,Acme\nC1,Acme\n")

    assert (report.created, report.unchanged, report.rejected) == (1, 1, 0)


def test_a_rejected_customer_row_is_reported_by_its_own_id_never_by_another_column(
    store: InMemoryLedgerStore,
) -> None:
    report = load(store, "customers", "tin,customer_id,terms_days\n12-3456789,C1,forever\n")

    (problem,) = report.problems
    assert problem.record_id == "C1"
    assert "3456789" not in str(report.as_dict())


def test_a_new_invoice_never_overwrites_one_a_concurrent_import_created_meanwhile(
    store: InMemoryLedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_customers(store, "C1")
    commit = store.commit
    raced: list[bool] = []

    def concurrent_import_first(writes: Sequence[Write], **kwargs: bool) -> None:
        if not raced:
            raced.append(True)
            load(store, "invoices", INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,100.00,\n")
            load(store, "payments", PAYMENTS + "P1,C1,I1,2026-02-01,60.00,USD\n")
        commit(writes, **kwargs)

    monkeypatch.setattr(store, "commit", concurrent_import_first)
    report = load(store, "invoices", INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,100.00,\n")

    assert report.rejected == 0
    assert balance(store, "I1") == 4000


def test_the_ledger_waits_for_a_lagging_index_instead_of_allocating_from_a_short_list(
    store: InMemoryLedgerStore,
) -> None:
    with_customers(store, "C1")
    load(store, "invoices", INVOICES + "I1,C1,2026-01-01,2026-01-31,USD,100.00,\n")
    load(store, "payments", PAYMENTS + "P1,C1,I1,2026-02-01,60.00,USD\n")
    store.index_lag = 1

    report = load(store, "payments", PAYMENTS + "P2,C1,I1,2026-02-02,60.00,USD\n")

    assert report.rejected == 1 and "catching up" in report.problems[0].reason
    assert balance(store, "I1") == 4000


def test_an_interrupted_multi_transaction_write_is_finished_by_the_next_import(
    store: InMemoryLedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_customers(store, "C1")
    rows = "".join(f"I{n:03d},C1,2026-01-01,2026-01-{1 + n % 28:02d},USD,10.00,\n" for n in range(150))
    load(store, "invoices", INVOICES + rows)
    commit = store.commit
    calls: list[int] = []

    def crash_after_the_first_transaction(writes: Sequence[Write], **kwargs: bool) -> None:
        if len(writes) > 1:  # a ledger transaction, not the import's own record
            calls.append(len(writes))
        if len(calls) == 2:
            raise RuntimeError("the process died")
        commit(writes, **kwargs)

    monkeypatch.setattr(store, "commit", crash_after_the_first_transaction)
    with pytest.raises(RuntimeError):
        load(store, "payments", PAYMENTS + "P1,C1,,2026-02-01,1500.00,USD\n")
    interrupted = store.customers(["C1"])["C1"].ledger_dirty
    monkeypatch.setattr(store, "commit", commit)
    load(store, "payments", PAYMENTS + "P2,C1,,2026-02-02,1.00,USD\n")

    assert interrupted is True
    assert store.customers(["C1"])["C1"].ledger_dirty is False
    assert all(balance(store, f"I{n:03d}") == 0 for n in range(150))
    assert credit(store) == {"USD": 100}
