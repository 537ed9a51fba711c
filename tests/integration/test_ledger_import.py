"""The ledger import against DynamoDB and KMS (moto): what lands, what is rejected, and that importing the
same files again changes nothing."""

from __future__ import annotations

import pytest

from shared.data.tables import (
    ActivityRecord,
    CustomerRecord,
    ImportRecord,
    InvoiceRecord,
    PaymentRecord,
    TinClaimRecord,
)
from shared.errors import ConflictError, FileFormatError
from shared.ledger.importer import LedgerImporter

CUSTOMERS = b"""customer_id,legal_name,dba_name,tin_type,tin,country,ap_email,phone,timezone,segment,currency,terms_days
C1,Acme Industrial LLC,,ein,12-3456789,US,AP@Acme-Industrial.com,+15555550100,America/Chicago,,USD,30
C2,Bright Water GmbH,,,,DE,jane.doe@gmail.com,,Europe/Berlin,strategic,EUR,45
C3,No Reply Corp,,ein,98-7654321,US,noreply@noreply-corp.com,,America/New_York,,USD,30
C4,Broken Zone Inc,,,,US,ap@broken-zone.com,,Mars/Olympus,,USD,30
"""

INVOICES = b"""invoice_id,customer_id,number,issue_date,due_date,currency,amount,balance,po_number
I1,C1,1001,2026-09-01,2026-10-01,USD,1000.00,,PO-7
I2,C1,1002,2026-10-01,2026-10-31,USD,500.00,200.00,
I3,C2,2001,2026-10-15,2026-11-29,EUR,750.50,,
I4,C9,9001,2026-10-15,2026-11-14,USD,10.00,,
I5,C1,1005,2026-10-15,2026-10-01,USD,10.00,,
I6,C1,1006,2026-10-15,2026-11-14,JPY,10.5,,
I7,C1,1007,2026-10-15,2026-11-14,USD,-1,,
"""

PAYMENTS = b"""payment_id,customer_id,invoice_id,date,amount,currency,method
P1,C1,I1,2026-11-01,400.00,USD,ach
P2,C1,I1,2026-11-05,700.00,USD,wire
P3,C2,,2026-11-06,100.00,EUR,card
P4,C2,I1,2026-11-06,1.00,EUR,card
P6,C1,I2,2026-11-06,1.00,EUR,card
P5,C1,I404,2026-11-06,1.00,USD,card
"""


def load_all(importer: LedgerImporter):
    return [
        importer.import_file("customers", CUSTOMERS, source="customers.csv"),
        importer.import_file("invoices", INVOICES, source="invoices.csv"),
        importer.import_file("payments", PAYMENTS, source="payments.csv"),
    ]


def test_good_rows_land_and_each_bad_row_is_reported_with_its_line(importer: LedgerImporter) -> None:
    customers, invoices, payments = load_all(importer)

    assert (customers.created, customers.rejected) == (3, 1)
    assert [str(p) for p in customers.problems if p.severity == "error"] == [
        "line 5: timezone 'Mars/Olympus' is not an IANA time zone"
    ]
    assert (invoices.created, invoices.rejected) == (3, 4)
    assert sorted(str(p) for p in invoices.problems) == [
        "line 5: customer C9 is not known: import customers first",
        "line 6: due_date 2026-10-01 is before issue_date 2026-10-15",
        "line 7: amount 10.5 has more decimals than JPY allows (0)",
        "line 8: amount -1 is negative",
    ]
    # A payment naming an invoice it cannot pay is kept as the customer's credit, and said.
    assert (payments.created, payments.rejected, payments.warnings) == (6, 0, 3)
    assert sorted(str(p) for p in payments.problems) == [
        "line 5: warning: invoice I1 belongs to another customer: the payment is held as credit",
        "line 6: warning: invoice I2 is in USD: the payment (EUR) is held as credit",
        "line 7: warning: invoice I404 is not known yet: the payment is held as credit until it is imported",
    ]


def test_payments_reduce_balances_and_an_overpayment_becomes_credit(importer: LedgerImporter) -> None:
    load_all(importer)
    i1 = InvoiceRecord.get("I1")
    # 400 + 700 paid on a 1,000 invoice: paid, and 100 left over as the customer's credit.
    assert (i1.balance_minor, i1.status, i1.paid_on) == (0, "paid", "2026-11-05")
    assert i1.next_action_shard is None and i1.next_action_date is None  # out of the dunning index
    # 100.00 over I1, plus the 1.00 USD naming an unknown invoice and the 1.00 EUR naming a USD one.
    assert CustomerRecord.get("C1").credit_balances() == {"EUR": 100, "USD": 10100}
    # An unnamed payment pays the customer's oldest open invoice in its currency.
    assert InvoiceRecord.get("I3").balance_minor == 65050
    p3 = PaymentRecord.get("P3")
    assert [(a.invoice_id, a.amount_minor) for a in p3.allocations] == [("I3", 10000)]
    # The payments are on the customer's timeline.
    timeline = list(ActivityRecord.query("C1"))
    assert [a.kind for a in timeline] == ["payment"] * 4
    assert "kept as credit" in timeline[1].summary
    assert timeline[0].occurred_at.date().isoformat() == "2026-11-01"  # the payment's date, not the import's


def test_open_invoices_enter_the_sparse_next_action_index(importer: LedgerImporter) -> None:
    load_all(importer)
    i2 = InvoiceRecord.get("I2")
    assert (i2.balance_minor, i2.status) == (20000, "open")  # the ERP's balance column
    assert i2.next_action_shard is not None and i2.next_action_shard.startswith("s")
    assert i2.next_action_date == "2026-10-15"  # 14 days after issue: the earliest possible touch
    due = list(
        InvoiceRecord.next_action_index.query(i2.next_action_shard, InvoiceRecord.next_action_date <= "2026-11-22")
    )
    assert "I2" in [i.invoice_id for i in due]


def test_importing_the_same_files_again_changes_nothing(importer: LedgerImporter) -> None:
    load_all(importer)
    before = _snapshot()
    customers, invoices, payments = load_all(importer)
    assert (customers.created, customers.updated, customers.unchanged) == (0, 0, 3)
    assert (invoices.created, invoices.updated, invoices.unchanged) == (0, 0, 3)
    assert (payments.created, payments.updated, payments.unchanged) == (0, 0, 6)
    assert _snapshot() == before


def test_a_payment_id_reused_with_other_details_is_rejected_not_applied(importer: LedgerImporter) -> None:
    load_all(importer)
    changed = PAYMENTS.replace(b"P1,C1,I1,2026-11-01,400.00", b"P1,C1,I1,2026-11-01,450.00")
    report = importer.import_file("payments", changed, source="payments.csv")
    assert any("P1 is already recorded with other details" in str(p) for p in report.problems)
    assert PaymentRecord.get("P1").amount_minor == 40000


def test_master_data_problems_are_stored_and_flag_the_customer(importer: LedgerImporter) -> None:
    customers = importer.import_file("customers", CUSTOMERS, source="customers.csv")
    c1, c2, c3 = (CustomerRecord.get(c) for c in ("C1", "C2", "C3"))
    assert (c1.onboarding_status, c1.ap_email, c1.onboarding_reasons) == ("submitted", "ap@acme-industrial.com", [])
    assert c2.onboarding_status == "submitted"  # a personal address is accepted with a warning
    assert c3.onboarding_status == "needs_attention"
    assert c3.onboarding_reasons == [
        "ap_email: noreply@noreply-corp.com is a no-reply mailbox and cannot receive reminders"
    ]
    assert c3.contacts[0].email_state == "invalid"
    warned = {(p.line, p.severity) for p in customers.problems}
    assert (3, "warning") in warned and (4, "warning") in warned


def test_a_tin_is_encrypted_fingerprinted_and_kept_only_as_last_four(importer: LedgerImporter) -> None:
    importer.import_file("customers", CUSTOMERS, source="customers.csv")
    c1 = CustomerRecord.get("C1")
    assert c1.tin_last4 == "6789"
    assert b"123456789" not in c1.tin_ciphertext
    assert importer.vault.decrypt(c1.tin_ciphertext, "C1") == "123456789"  # type: ignore[attr-defined]
    assert "123456789" not in str(CustomerRecord.get("C1").serialize())
    assert TinClaimRecord.get(c1.tin_fingerprint).holders() == {"C1"}


def test_one_tin_claimed_by_two_customers_flags_both(importer: LedgerImporter) -> None:
    importer.import_file("customers", CUSTOMERS, source="customers.csv")
    report = importer.import_file(
        "customers", b"customer_id,tin_type,tin,ap_email\nC5,ein,123456789,ap@c5-corp.com\n", source="c5.csv"
    )
    assert [str(p) for p in report.problems] == ["line 2: warning: tin: the same TIN belongs to customer C1"]
    assert CustomerRecord.get("C5").onboarding_status == "needs_attention"
    c1 = CustomerRecord.get("C1")
    assert (c1.onboarding_status, c1.onboarding_reasons) == (
        "needs_attention",
        ["tin: the same TIN belongs to customer C5"],
    )


def test_an_empty_cell_keeps_what_is_stored(importer: LedgerImporter) -> None:
    importer.import_file("customers", CUSTOMERS, source="customers.csv")
    report = importer.import_file("customers", b"customer_id,legal_name,ap_email,terms_days\nC1,,,60\n", source="x.csv")
    assert (report.updated, report.rejected) == (1, 0)
    c1 = CustomerRecord.get("C1")
    assert (c1.legal_name, c1.ap_email, c1.terms_days) == ("Acme Industrial LLC", "ap@acme-industrial.com", 60)


def test_a_dry_run_reports_the_same_but_writes_nothing(importer: LedgerImporter) -> None:
    report = importer.import_file("customers", CUSTOMERS, source="customers.csv", dry_run=True)
    assert (report.created, report.rejected, report.dry_run) == (3, 1, True)
    assert list(CustomerRecord.scan()) == []
    assert list(ImportRecord.scan()) == []


def test_a_file_level_fault_writes_nothing(importer: LedgerImporter) -> None:
    with pytest.raises(FileFormatError, match=r"no column.*due_date"):
        importer.import_file(
            "invoices", b"invoice_id,customer_id,issue_date,currency,amount\nI1,C1,2026-01-01,USD,1\n", source="bad.csv"
        )
    with pytest.raises(FileFormatError, match="not UTF-8"):
        importer.import_file("customers", "customer_id,legal_name\nC1,Café\n".encode("latin-1"), source="bad.csv")
    assert list(ImportRecord.scan()) == []
    assert list(CustomerRecord.scan()) == []


def test_each_import_is_recorded_with_its_counts_and_problems(importer: LedgerImporter) -> None:
    report = importer.import_file("customers", CUSTOMERS, source="customers.csv")
    stored = ImportRecord.get(report.import_id)
    assert stored.status == "done"
    assert stored.counts["created"] == 3 and stored.counts["rejected"] == 1
    assert {
        "line": 5,
        "severity": "error",
        "reason": "timezone 'Mars/Olympus' is not an IANA time zone",
        "record_id": "C4",
    } in stored.problems


def test_progress_is_reported_up_to_the_whole_file(importer: LedgerImporter) -> None:
    seen: list[tuple[int, int]] = []
    importer.import_file("customers", CUSTOMERS, source="customers.csv", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (4, 4)


def _snapshot() -> dict[str, list[dict]]:
    def rows(model) -> list[dict]:
        return sorted((r.serialize() for r in model.scan()), key=repr)

    return {m.__name__: rows(m) for m in (CustomerRecord, InvoiceRecord, PaymentRecord, ActivityRecord)}


def test_a_payment_file_that_meets_a_concurrent_writer_reads_again_and_lands_whole(
    importer: LedgerImporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    importer.import_file("customers", CUSTOMERS, source="customers.csv")
    importer.import_file("invoices", INVOICES, source="invoices.csv")
    commit = importer.repository.commit
    raced: list[int] = []

    def lose_the_first_race(writes):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append(len(writes))
            raise ConflictError("the customer's ledger changed while this import was writing it")
        commit(writes)

    monkeypatch.setattr(importer.repository, "commit", lose_the_first_race)
    report = importer.import_file("payments", PAYMENTS, source="payments.csv")

    assert (report.created, report.rejected) == (6, 0)
    i1 = InvoiceRecord.get("I1")
    assert (i1.balance_minor, [p.payment_id for p in i1.applied]) == (0, ["P1", "P2"])


def test_rows_whose_customer_keeps_changing_are_rejected_whole_and_nothing_of_them_is_written(
    importer: LedgerImporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    importer.import_file("customers", CUSTOMERS, source="customers.csv")
    importer.import_file("invoices", INVOICES, source="invoices.csv")

    def always_lose(writes):  # type: ignore[no-untyped-def]
        raise ConflictError("the customer's ledger changed while this import was writing it")

    monkeypatch.setattr(importer.repository, "commit", always_lose)
    report = importer.import_file("payments", PAYMENTS, source="payments.csv")

    assert report.rejected == 6
    assert "line 2: the customer's ledger changed while this import was writing it: import the file again" in [
        str(p) for p in report.problems
    ]
    assert list(PaymentRecord.scan()) == []
