"""Invoice copies, statements and letters are real, deterministic PDFs that print any customer's name.

The checks read the files back without a PDF library: the cross-reference table must point at the objects
it names, pages are counted from the page objects, and the printed text is read from the (deflated) page
content streams, where fpdf2 writes each line as a `(text) Tj` string.
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.documents.pdf import (
    AGING_BUCKETS,
    AppliedAmount,
    InvoiceDocument,
    Party,
    StatementDocument,
    StatementLine,
    StatementPayment,
    aging,
    aging_bucket,
    invoice_file_name,
    invoice_pdf,
    letter_file_name,
    letter_pdf,
    printable,
    statement_file_name,
    statement_pdf,
)

AS_OF = date(2026, 3, 5)
SELLER = Party("Northwind Supply", ("1 Main St", "Springfield, IL 62701"), email="ar@northwind.example")
CUSTOMER = Party("Acme Corp", ("500 Market St", "San Francisco, CA 94105"))


def invoice(customer: Party = CUSTOMER, number: str | None = "INV-1042", as_of: date = AS_OF) -> InvoiceDocument:
    return InvoiceDocument(
        seller=SELLER,
        customer=customer,
        customer_id="C-1",
        invoice_id="erp-1042",
        number=number,
        issue_date=date(2026, 2, 1),
        due_date=date(2026, 3, 2),
        currency="USD",
        amount_minor=421_000,
        balance_minor=121_000,
        as_of=as_of,
        po_number="PO-77",
        applied=(AppliedAmount(date(2026, 3, 3), "PAY-9", 300_000),),
    )


def statement_line(i: int, currency: str = "USD", due: date = date(2026, 2, 1), balance: int = 10_000) -> StatementLine:
    return StatementLine(f"erp-{i}", f"INV-{i}", due - timedelta(days=30), due, currency, balance + 5_000, balance)


def statement(*lines: StatementLine, customer: Party = CUSTOMER) -> StatementDocument:
    return StatementDocument(
        seller=SELLER,
        customer=customer,
        customer_id="C-1",
        as_of=AS_OF,
        lines=lines,
        payments=(StatementPayment(date(2026, 3, 1), "PAY-1", "USD", 50_000),),
        credits=(("USD", 1_234),),
    )


# --- reading a PDF back ---------------------------------------------------------------------------------


def assert_is_pdf(document: bytes) -> None:
    assert document.startswith(b"%PDF-1.")
    assert document.rstrip().endswith(b"%%EOF")
    xref_at = int(re.findall(rb"startxref\s+(\d+)", document)[-1])
    assert document[xref_at:].startswith(b"xref")
    offsets = re.findall(rb"^(\d{10}) 00000 n", document[xref_at:], re.MULTILINE)
    assert offsets
    for number, offset in enumerate(offsets, start=1):
        assert document[int(offset) :].startswith(f"{number} 0 obj".encode())


def page_count(document: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", document))


def printed_text(document: bytes) -> str:
    """Every string the pages show, one per line, in order."""
    shown: list[str] = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", document, re.DOTALL):
        content = zlib.decompress(raw)
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.DOTALL):
            shown.append(re.sub(rb"\\(.)", rb"\1", literal).decode("cp1252"))
    return "\n".join(shown)


# --- invoice copies ------------------------------------------------------------------------------------


def test_an_invoice_copy_is_a_one_page_pdf_with_every_fact_of_the_invoice() -> None:
    document = invoice_pdf(invoice())

    assert_is_pdf(document)
    assert page_count(document) == 1
    text = printed_text(document)
    for fact in (
        "Northwind Supply",
        "Acme Corp",
        "Account C-1",
        "INV-1042",
        "2026-02-01",
        "2026-03-02",
        "PO-77",
        "4,210.00 USD",  # amount
        "3,000.00 USD",  # paid
        "1,210.00 USD",  # balance
        "3 days past due",
        "PAY-9",
    ):
        assert fact in text, fact


def test_an_invoice_without_a_number_is_printed_with_its_id() -> None:
    assert "erp-1042" in printed_text(invoice_pdf(invoice(number=None)))


def test_a_paid_invoice_says_so() -> None:
    paid = replace(invoice(), balance_minor=0)

    assert "Paid in full" in printed_text(invoice_pdf(paid))


def test_the_same_invoice_gives_the_same_bytes_so_a_resent_attachment_is_identical() -> None:
    assert invoice_pdf(invoice()) == invoice_pdf(invoice())
    assert b"/CreationDate (D:20260305000000Z" in invoice_pdf(invoice())
    assert invoice_pdf(invoice(as_of=AS_OF + timedelta(days=1))) != invoice_pdf(invoice())


def test_an_invoice_copy_stays_small() -> None:
    assert len(invoice_pdf(invoice())) < 10_000


# --- names the core fonts cannot print ------------------------------------------------------------------


def test_emoji_and_cjk_in_a_name_print_as_question_marks_and_latin_accents_survive() -> None:
    customer = Party("株式会社 Zoë 🎉 Őrség Straße", ("Line one\nLine two",))

    document = invoice_pdf(invoice(customer=customer))

    assert_is_pdf(document)
    text = printed_text(document)
    assert "???? Zoë ? Orség Straße" in text
    assert "Line one Line two" in text


@settings(max_examples=60, deadline=None)
@given(name=st.text(max_size=120), number=st.text(max_size=60))
def test_any_customer_name_or_invoice_number_gives_a_valid_pdf(name: str, number: str) -> None:
    document = invoice_pdf(invoice(customer=Party(name), number=number))

    assert_is_pdf(document)
    assert page_count(document) >= 1


@given(text=st.text())
def test_printable_text_is_always_windows_1252_without_control_characters(text: str) -> None:
    shown = printable(text)

    shown.encode("cp1252")
    assert not any(ord(ch) < 32 for ch in shown)


# --- statements ----------------------------------------------------------------------------------------


def test_a_statement_has_a_section_a_total_and_an_aging_per_currency() -> None:
    lines = (
        statement_line(1, "USD", date(2026, 3, 10), 100_000),  # not yet due
        statement_line(2, "USD", date(2026, 2, 20), 200_000),  # 13 days
        statement_line(3, "USD", date(2025, 11, 1), 50_050),  # 124 days
        statement_line(4, "EUR", date(2026, 1, 1), 30_000),  # 63 days
    )

    document = statement_pdf(statement(*lines))

    assert_is_pdf(document)
    text = printed_text(document)
    assert "Open invoices in EUR" in text and "Open invoices in USD" in text
    assert "Balance due in USD\n3,500.50 USD" in text
    assert "Balance due in EUR\n300.00 EUR" in text
    assert "Total USD" in text and "Total EUR" in text
    usd_aging = text.split("Aging of the USD balance", 1)[1]
    assert usd_aging.split("\n")[6:11] == ["1,000.00 USD", "2,000.00 USD", "0.00 USD", "0.00 USD", "500.50 USD"]
    assert "6,300.50" not in text  # never a sum across currencies
    assert "12.34 USD (not deducted from the balances above)" in text
    assert "PAY-1" in text


def test_a_long_statement_runs_over_several_numbered_pages() -> None:
    lines = tuple(statement_line(i, due=date(2026, 1, 1) + timedelta(days=i % 60)) for i in range(150))

    document = statement_pdf(statement(*lines))

    pages = page_count(document)
    assert pages >= 3
    text = printed_text(document)
    numbers = re.findall(r"Page (\d+) of\s*(\d+)", text)  # fpdf2 writes the page total as its own string
    assert numbers == [(str(page), str(pages)) for page in range(1, pages + 1)]
    assert all(f"INV-{i}" in text.split("\n") for i in range(150))
    assert len(document) < 100_000


def test_an_empty_statement_says_nothing_is_open() -> None:
    assert "No invoices are open on this account." in printed_text(statement_pdf(statement()))


def test_the_same_statement_gives_the_same_bytes() -> None:
    lines = (statement_line(1), statement_line(2, "EUR"))

    assert statement_pdf(statement(*lines)) == statement_pdf(statement(*lines))


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-5, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
        (400, "90+"),
    ],
)
def test_aging_buckets_by_days_past_due(days: int, bucket: str) -> None:
    assert aging_bucket(days) == bucket


@given(
    st.lists(
        st.tuples(st.sampled_from(["USD", "EUR", "JPY"]), st.integers(-200, 200), st.integers(0, 10**12)),
        max_size=40,
    )
)
def test_aging_spreads_each_currency_balance_over_its_buckets_without_mixing_currencies(
    entries: list[tuple[str, int, int]],
) -> None:
    lines = [
        statement_line(i, currency, AS_OF - timedelta(days=days), minor)
        for i, (currency, days, minor) in enumerate(entries)
    ]
    expected: dict[str, int] = defaultdict(int)
    for line in lines:
        expected[line.currency] += line.balance_minor

    buckets = aging(reversed(lines), AS_OF)

    assert {currency: sum(by_bucket.values()) for currency, by_bucket in buckets.items()} == expected
    assert all(tuple(by_bucket) == AGING_BUCKETS for by_bucket in buckets.values())


# --- letters and file names -----------------------------------------------------------------------------


def test_a_letter_prints_the_sender_the_recipient_the_date_and_every_paragraph() -> None:
    body = "Dear Acme Corp,\n\nInvoices in USD:\n  - Invoice INV-1042: 1,210.00 USD\n\nSincerely,\nNorthwind"

    document = letter_pdf(
        body, sender=SELLER, recipient=CUSTOMER, as_of=AS_OF, customer_id="C-1", subject="Final notice"
    )

    assert_is_pdf(document)
    text = printed_text(document)
    for fact in ("Northwind Supply", "500 Market St", "Date: 2026-03-05", "Final notice", "Dear Acme Corp,"):
        assert fact in text
    assert "- Invoice INV-1042: 1,210.00 USD" in text
    assert letter_pdf(body, sender=SELLER, recipient=CUSTOMER, as_of=AS_OF, customer_id="C-1") == letter_pdf(
        body, sender=SELLER, recipient=CUSTOMER, as_of=AS_OF, customer_id="C-1"
    )


def test_attachment_file_names_keep_only_safe_characters() -> None:
    assert invoice_file_name("INV/1042 <x>", "erp-1") == "invoice-INV_1042_x.pdf"
    assert invoice_file_name(None, "erp-1") == "invoice-erp-1.pdf"
    assert invoice_file_name("../../etc/passwd", "erp-1") == "invoice-etc_passwd.pdf"
    assert invoice_file_name("株式", "erp-1") == "invoice-document.pdf"
    assert statement_file_name(AS_OF) == "statement-2026-03-05.pdf"
    assert letter_file_name("C 1/2", AS_OF) == "letter-C_1_2-2026-03-05.pdf"
