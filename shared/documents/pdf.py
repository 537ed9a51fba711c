"""Invoice copies, account statements and dunning letters as PDF, with fpdf2 (pure Python: nothing to
compile into the Lambda bundle).

The documents use the PDF core fonts, so nothing is embedded and a page stays a few kilobytes; those fonts
print only Windows-1252, so other characters are transliterated (é stays é, ő becomes o) and what has no Latin
form (CJK, emoji) prints as "?". A customer name never makes a document fail. Stored text is printed as
text, never interpreted (no markdown, no HTML).

A document is a pure function of its input: the creation date is the document's `as_of` day, so the same
statement re-sent is byte-for-byte the same attachment. Amounts come from integer minor units through
shared.money; different currencies are never added up.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from fpdf import FPDF, FontFace

from shared.money import format_money

PAGE_FORMAT = "Letter"
CORE_ENCODING = "windows-1252"
FONT = "helvetica"
AGING_BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "90+")
_PRODUCER = "arcollect"
_HEADINGS = FontFace(emphasis="BOLD", fill_color=(238, 242, 247))
_FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Party:
    """A seller or a customer as a document prints it."""

    name: str
    address_lines: tuple[str, ...] = ()
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class AppliedAmount:
    """A payment or credit note applied to an invoice."""

    on: date
    reference: str
    amount_minor: int
    kind: str = "payment"  # payment | credit


@dataclass(frozen=True)
class InvoiceDocument:
    seller: Party
    customer: Party
    customer_id: str
    invoice_id: str
    number: str | None
    issue_date: date
    due_date: date
    currency: str
    amount_minor: int
    balance_minor: int
    as_of: date  # the day the copy is made: its creation date
    po_number: str | None = None
    applied: tuple[AppliedAmount, ...] = ()

    @property
    def paid_minor(self) -> int:
        """Everything that reduced the invoice: payments, credit notes, what the ERP shows as settled."""
        return self.amount_minor - self.balance_minor


@dataclass(frozen=True)
class StatementLine:
    invoice_id: str
    number: str | None
    issue_date: date
    due_date: date
    currency: str
    amount_minor: int
    balance_minor: int
    po_number: str | None = None


@dataclass(frozen=True)
class StatementPayment:
    paid_on: date
    reference: str
    currency: str
    amount_minor: int


@dataclass(frozen=True)
class StatementDocument:
    """Open invoices as of a day; recent payments and unapplied credit (per currency) are optional."""

    seller: Party
    customer: Party
    customer_id: str
    as_of: date
    lines: tuple[StatementLine, ...]
    payments: tuple[StatementPayment, ...] = ()
    credits: tuple[tuple[str, int], ...] = ()  # (currency, minor units) held on the account


def invoice_pdf(invoice: InvoiceDocument) -> bytes:
    pdf = _document(invoice.as_of, f"Invoice {_number(invoice.number, invoice.invoice_id)}")
    _letterhead(pdf, invoice.seller, "INVOICE COPY", invoice.as_of)
    _addressee(pdf, "Bill to", invoice.customer, invoice.customer_id)
    details = [
        ("Invoice number", _number(invoice.number, invoice.invoice_id)),
        ("Invoice date", invoice.issue_date.isoformat()),
        ("Due date", invoice.due_date.isoformat()),
        ("PO number", invoice.po_number or "-"),
        ("Currency", invoice.currency.upper()),
    ]
    _key_values(pdf, details)
    pdf.ln(4)
    amounts = [
        ("Invoice amount", format_money(invoice.amount_minor, invoice.currency)),
        ("Paid and credited", format_money(invoice.paid_minor, invoice.currency)),
        ("Balance due", format_money(invoice.balance_minor, invoice.currency)),
        ("Status", _status(invoice.balance_minor, invoice.due_date, invoice.as_of)),
    ]
    _key_values(pdf, amounts)
    if invoice.applied:
        _heading(pdf, "Payments and credits applied")
        rows = [
            (item.on.isoformat(), item.kind, item.reference, format_money(item.amount_minor, invoice.currency))
            for item in sorted(invoice.applied, key=lambda item: (item.on, item.reference))
        ]
        _table(pdf, ("Date", "Kind", "Reference", "Amount"), rows, (0.2, 0.15, 0.4, 0.25), ("L", "L", "L", "R"))
    return _bytes(pdf)


def statement_pdf(statement: StatementDocument) -> bytes:
    pdf = _document(statement.as_of, f"Statement {statement.as_of.isoformat()}")
    _letterhead(pdf, statement.seller, "ACCOUNT STATEMENT", statement.as_of)
    _addressee(pdf, "Account", statement.customer, statement.customer_id)
    if not statement.lines:
        _paragraph(pdf, "No invoices are open on this account.")
    totals = [
        (f"Balance due in {currency}", format_money(sum(line.balance_minor for line in lines), currency))
        for currency, lines in _by_currency(statement.lines).items()
    ]
    _key_values(pdf, totals)
    for currency, lines in _by_currency(statement.lines).items():
        _currency_section(pdf, currency, lines, statement.as_of)
    if statement.credits:
        _heading(pdf, "Credit on account")
        for currency, minor in sorted(statement.credits):
            _paragraph(pdf, f"{format_money(minor, currency)} (not deducted from the balances above)")
    if statement.payments:
        _heading(pdf, "Recent payments")
        rows = [
            (payment.paid_on.isoformat(), payment.reference, format_money(payment.amount_minor, payment.currency))
            for payment in sorted(statement.payments, key=lambda p: (p.paid_on, p.reference), reverse=True)
        ]
        _table(pdf, ("Date", "Reference", "Amount"), rows, (0.25, 0.45, 0.3), ("L", "L", "R"))
    return _bytes(pdf)


def letter_pdf(
    text: str, *, sender: Party, recipient: Party, as_of: date, customer_id: str, subject: str | None = None
) -> bytes:
    """A dunning letter: the sender's letterhead, the recipient's address block, the date and `text`
    (render_letter_text's output) as paragraphs."""
    pdf = _document(as_of, subject or "Letter")
    _letterhead(pdf, sender, "", as_of)
    _addressee(pdf, "", recipient, customer_id)
    pdf.ln(4)
    if subject:
        pdf.set_font(FONT, "B", 11)
        _paragraph(pdf, subject)
        pdf.ln(3)
    pdf.set_font(FONT, "", 10.5)
    for paragraph in text.split("\n"):
        _paragraph(pdf, paragraph.rstrip(), height=5.5)
    return _bytes(pdf)


def aging(lines: Iterable[StatementLine], as_of: date) -> dict[str, dict[str, int]]:
    """Open balance per currency per aging bucket (days past due: current, 1-30, 31-60, 61-90, 90+)."""
    result: dict[str, dict[str, int]] = {}
    for line in lines:
        buckets = result.setdefault(line.currency.upper(), dict.fromkeys(AGING_BUCKETS, 0))
        buckets[aging_bucket((as_of - line.due_date).days)] += line.balance_minor
    return result


def aging_bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def invoice_file_name(number: str | None, invoice_id: str) -> str:
    """An attachment's file name: only letters, digits, dots, dashes and underscores survive."""
    return f"invoice-{_safe_file_part(_number(number, invoice_id))}.pdf"


def statement_file_name(as_of: date) -> str:
    return f"statement-{as_of.isoformat()}.pdf"


def letter_file_name(customer_id: str, as_of: date) -> str:
    return f"letter-{_safe_file_part(customer_id)}-{as_of.isoformat()}.pdf"


def printable(text: str) -> str:
    """Text the core fonts can print: Windows-1252 characters as they are, others reduced to their Latin
    letters (ő → o, ﬁ → fi) or "?", control characters dropped."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(" " if ch.isspace() else "")
        elif _encodable(ch):
            out.append(ch)
        else:
            latin = "".join(c for c in unicodedata.normalize("NFKD", ch) if _encodable(c) and not _combining(c))
            out.append(latin or "?")
    return "".join(out)


# --- layout ---------------------------------------------------------------------------------------------


class _Document(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(120, 120, 120)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _document(as_of: date, title: str) -> FPDF:
    pdf = _Document(format=PAGE_FORMAT)
    pdf.core_fonts_encoding = CORE_ENCODING
    pdf.set_creation_date(datetime.combine(as_of, time(0, 0), tzinfo=UTC))
    pdf.set_producer(_PRODUCER)
    pdf.set_creator(_PRODUCER)
    pdf.set_title(printable(title))
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.set_font(FONT, "", 10)
    return pdf


def _letterhead(pdf: FPDF, seller: Party, title: str, as_of: date) -> None:
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(110, 7, printable(seller.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    for line in _contact_lines(seller):
        pdf.multi_cell(110, 4.5, printable(line), new_x="LMARGIN", new_y="NEXT")
    bottom = pdf.get_y()
    pdf.set_xy(pdf.w - pdf.r_margin - 70, top)
    if title:
        pdf.set_font(FONT, "B", 13)
        pdf.cell(70, 7, title, align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    pdf.cell(70, 5, f"Date: {as_of.isoformat()}", align="R")
    pdf.set_xy(pdf.l_margin, max(bottom, pdf.get_y() + 5) + 6)


def _addressee(pdf: FPDF, label: str, party: Party, customer_id: str) -> None:
    if label:
        pdf.set_font(FONT, "B", 9)
        pdf.cell(0, 5, label, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 10.5)
    pdf.multi_cell(110, 5, printable(party.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9.5)
    for line in (*_contact_lines(party), f"Account {customer_id}"):
        pdf.multi_cell(110, 4.5, printable(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)


def _contact_lines(party: Party) -> list[str]:
    return [line for line in (*party.address_lines, party.email, party.phone) if line]


def _key_values(pdf: FPDF, pairs: Sequence[tuple[str, str]]) -> None:
    for key, value in pairs:
        pdf.set_font(FONT, "B", 10)
        pdf.cell(45, 6, key)
        pdf.set_font(FONT, "", 10)
        pdf.multi_cell(0, 6, printable(value), new_x="LMARGIN", new_y="NEXT")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(4)
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(0, 7, printable(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9.5)


def _paragraph(pdf: FPDF, text: str, height: float = 5) -> None:
    if not text:
        pdf.ln(height)
        return
    pdf.multi_cell(0, height, printable(text), new_x="LMARGIN", new_y="NEXT")


def _table(
    pdf: FPDF,
    headings: Sequence[str],
    rows: Iterable[Sequence[str]],
    widths: Sequence[float],
    align: Sequence[str],
    totals: Sequence[str] | None = None,
) -> None:
    pdf.set_font(FONT, "", 9)
    with pdf.table(
        col_widths=tuple(widths),
        text_align=tuple(align),
        headings_style=_HEADINGS,
        borders_layout="HORIZONTAL_LINES",
        line_height=5,
        padding=(0.8, 1.2),
    ) as table:
        table.row([printable(text) for text in headings])
        for row in rows:
            table.row([printable(text) for text in row])
        if totals is not None:
            table.row([printable(text) for text in totals], style=FontFace(emphasis="BOLD"))
    pdf.ln(2)


def _currency_section(pdf: FPDF, currency: str, lines: list[StatementLine], as_of: date) -> None:
    _heading(pdf, f"Open invoices in {currency}")
    rows = [
        (
            _number(line.number, line.invoice_id),
            line.issue_date.isoformat(),
            line.due_date.isoformat(),
            format_money(line.amount_minor, currency),
            format_money(line.balance_minor, currency),
            str(max((as_of - line.due_date).days, 0)),
        )
        for line in sorted(lines, key=lambda line: (line.due_date, _number(line.number, line.invoice_id)))
    ]
    total = format_money(sum(line.balance_minor for line in lines), currency)
    _table(
        pdf,
        ("Invoice", "Invoice date", "Due date", "Amount", "Balance", "Days late"),
        rows,
        (0.2, 0.15, 0.15, 0.19, 0.19, 0.12),
        ("L", "L", "L", "R", "R", "R"),
        totals=(f"Total {currency}", "", "", "", total, ""),
    )
    buckets = aging(lines, as_of)[currency]
    pdf.set_font(FONT, "B", 9.5)
    pdf.cell(0, 6, f"Aging of the {currency} balance (days past due)", new_x="LMARGIN", new_y="NEXT")
    _table(
        pdf,
        ("Not yet due", "1-30 days", "31-60 days", "61-90 days", "Over 90 days"),
        [tuple(format_money(buckets[bucket], currency) for bucket in AGING_BUCKETS)],
        (0.2, 0.2, 0.2, 0.2, 0.2),
        ("R", "R", "R", "R", "R"),
    )


def _by_currency(lines: Iterable[StatementLine]) -> dict[str, list[StatementLine]]:
    groups: dict[str, list[StatementLine]] = {}
    for line in lines:
        groups.setdefault(line.currency.upper(), []).append(line)
    return dict(sorted(groups.items()))


def _status(balance_minor: int, due_date: date, as_of: date) -> str:
    if balance_minor <= 0:
        return "Paid in full"
    days = (as_of - due_date).days
    if days > 0:
        return f"{days} day{'s' if days != 1 else ''} past due"
    if days == 0:
        return "Due today"
    return f"Due in {-days} day{'s' if days != -1 else ''}"


def _number(number: str | None, invoice_id: str) -> str:
    return (number or "").strip() or invoice_id


def _safe_file_part(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _FILE_NAME_UNSAFE.sub("_", ascii_text).strip("._-")[:60] or "document"


def _encodable(ch: str) -> bool:
    try:
        ch.encode(CORE_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _combining(ch: str) -> bool:
    return unicodedata.combining(ch) != 0


def _bytes(pdf: FPDF) -> bytes:
    return bytes(pdf.output())
