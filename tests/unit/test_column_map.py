import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import ColumnMapError, ValidationError
from shared.ledger.column_map import ColumnMap, plain_amount
from shared.ledger.csv_source import open_csv
from shared.ledger.rows import parse_credit, parse_invoice, parse_payment

MAPS = Path(__file__).parents[2] / "maps"
FIXTURES = Path(__file__).parents[1] / "fixtures"
# One row in the layout of the IBM Watson AR sample (values made up for the test).
WATSON_ROW = {
    "countryCode": "391",
    "customerID": "0379-NEVHP",
    "PaperlessDate": "4/6/2013",
    "invoiceNumber": "0000611365",
    "InvoiceDate": "1/2/2013",
    "DueDate": "2/1/2013",
    "InvoiceAmount": "55.94",
    "Disputed": "No",
    "SettledDate": "1/15/2013",
    "PaperlessBill": "Paper",
    "DaysToSettle": "13",
    "DaysLate": "0",
}


def test_the_shipped_watson_map_turns_a_row_into_an_invoice_and_a_payment() -> None:
    text = (MAPS / "ibm-watson-ar.yaml").read_text()
    invoices = ColumnMap.from_yaml(text, "invoices")
    invoices.check_against("invoices", list(WATSON_ROW))
    invoice = parse_invoice(invoices.apply("invoices", WATSON_ROW))
    assert (invoice.invoice_id, invoice.customer_id, str(invoice.issue_date), str(invoice.due_date)) == (
        "0000611365",
        "0379-NEVHP",
        "2013-01-02",
        "2013-02-01",
    )
    assert (invoice.currency, invoice.amount_minor) == ("USD", 5594)

    payments = ColumnMap.from_yaml(text, "payments")
    payment = parse_payment(payments.apply("payments", WATSON_ROW))
    assert (payment.payment_id, payment.invoice_id, str(payment.paid_on)) == (
        "settle-0000611365",
        "0000611365",
        "2013-01-15",
    )
    assert payments.skips({**WATSON_ROW, "SettledDate": ""})


def test_every_shipped_map_loads_for_every_kind_it_has_a_section_for() -> None:
    for path in MAPS.glob("*.yaml"):
        text = path.read_text()
        for kind in ("customers", "invoices", "payments", "credits"):
            if f"\n{kind}:" in text:
                assert ColumnMap.from_yaml(text, kind).columns, (path.name, kind)


def test_the_european_map_reads_decimal_comma_amounts_and_refuses_the_rows_it_cannot_read() -> None:
    column_map = ColumnMap.from_yaml((MAPS / "european-decimal-comma.yaml").read_text(), "invoices")
    source = open_csv((FIXTURES / "european-invoices.csv").read_bytes())
    column_map.check_against("invoices", source.header)
    read, refused = {}, {}
    for row in source.rows():
        try:
            invoice = parse_invoice(column_map.apply("invoices", row.values))
            read[row.line] = (invoice.amount_minor, invoice.balance_minor, str(invoice.issue_date))
        except ValidationError as exc:
            refused[row.line] = exc.message
    assert read == {
        2: (123456, 23456, "2026-10-01"),
        3: (9990, None, "2026-10-05"),
        4: (1234567890, 1234567890, "2026-10-07"),
    }
    assert refused == {
        5: "amount '1,234.56' is not an amount as written in de_DE (such as 1.234,56)",
        6: "amount '1.2345,00' is not an amount as written in de_DE (such as 1.234,56)",
    }


def test_the_european_map_reads_a_credit_note() -> None:
    column_map = ColumnMap.from_yaml((MAPS / "european-decimal-comma.yaml").read_text(), "credits")
    row = {
        "Gutschriftnr": "GS-7",
        "Kundennr": "K-100",
        "Rechnungsnr": "RE-2026-001",
        "Datum": "03.11.2026",
        "Betrag": "1.000,50",
        "Währung": "EUR",
        "Grund": "Skonto",
    }
    credit = parse_credit(column_map.apply("credits", row))
    assert (credit.credit_id, str(credit.credited_on), credit.amount_minor, credit.reason) == (
        "GS-7",
        "2026-11-03",
        100050,
        "Skonto",
    )


@pytest.mark.parametrize(
    ("text", "locale", "plain"),
    [
        ("1.234,56", "de_DE", "1234.56"),
        ("1234,5", "de_DE", "1234.5"),
        ("-12,00", "de_DE", "-12.00"),
        ("1 234,56", "fr_FR", "1234.56"),  # any space stands for the group of a locale that groups with one
        ("1\u00a0234,56", "fr_FR", "1234.56"),
        ("1\u202f234,56", "fr_FR", "1234.56"),
        ("1\u2019234.56", "de_CH", "1234.56"),
        ("1,234.56", "en_US", "1234.56"),
    ],
)
def test_a_number_locale_turns_amounts_into_the_plain_form(text: str, locale: str, plain: str) -> None:
    assert plain_amount(text, locale) == plain


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("1.5", "de_DE"),  # a misplaced thousands dot
        ("1.2345,6", "de_DE"),
        ("1,234.56", "de_DE"),
        ("1e3", "de_DE"),  # babel alone reads these three
        ("NaN", "de_DE"),
        ("\u0663\u0664", "de_DE"),
        ("1.234", "fr_FR"),  # a dot is neither symbol in French: babel alone reads it as a decimal point
        ("12 34,5", "fr_FR"),
        ("5-", "de_DE"),
        ("EUR 5", "de_DE"),
        ("-", "de_DE"),
        ("9" * 100, "de_DE"),
    ],
)
def test_a_number_locale_refuses_what_its_locale_would_not_write(text: str, locale: str) -> None:
    with pytest.raises(ValidationError) as caught:
        plain_amount(text, locale)
    assert len(caught.value.message) < 130


def test_babel_is_loaded_only_by_maps_that_name_a_number_locale() -> None:
    probe = (
        "import sys\n"
        "from shared.ledger.column_map import ColumnMap\n"
        "ColumnMap.from_yaml('columns: {amount: {from: B}}', 'invoices').apply('invoices', {'B': '5'})\n"
        "assert 'babel' not in sys.modules, 'loaded without a number_locale'\n"
        "ColumnMap.from_yaml('number_locale: de_DE', 'invoices').apply('invoices', {'amount': '5,5'})\n"
        "assert 'babel' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=Path(__file__).parents[2])


def test_an_unparseable_date_is_left_for_the_row_check_to_report() -> None:
    column_map = ColumnMap.from_yaml("columns: {issue_date: {from: d, date_format: '%m/%d/%Y'}}", "invoices")
    assert column_map.apply("invoices", {"d": "13/45/2013"})["issue_date"] == "13/45/2013"


def test_a_mapped_row_names_its_id_column_first_whatever_order_the_map_gives() -> None:
    column_map = ColumnMap.from_yaml("columns: {tin: {from: T}, customer_id: {from: C}}", "customers")
    assert next(iter(column_map.apply("customers", {"T": "123456789", "C": "C1"}))) == "customer_id"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: {colour: {value: red}}", "column map line 1: `colour` is not a column of invoices"),
        ("columns:\n  invoice_id: {from: a, value: b}", "line 2, columns.invoice_id: give exactly one of"),
        ("columns:\n  invoice_id: {}", "line 2, columns.invoice_id: give exactly one of"),
        ("customers: {columns: {}}", "the column map has no `invoices:` section (it has: customers)"),
        ("- a list", "must be a YAML mapping"),
        ("columns: [unclosed", "not valid YAML at line 1, column 19"),
        ("a: 1\n---\nb: 2", "not valid YAML at line 2"),
        ("columns:\n  amount: {form: X}", "line 2, columns.amount.form: unknown key `form` (expected one of from,"),
        ("colums: {}", "line 1, colums: unknown key `colums` (expected one of columns, skip_if_empty"),
        ("invoices:\n  columns:\n    amount: {from: 12}", "line 3, invoices.columns.amount.from: must be text"),
        ("invoices: {}\nrefunds: {}", "line 2: unknown section `refunds`"),
        ("invoices: [1]", "line 1: the `invoices:` section must be a mapping"),
        ("invoices:\n  skip_if_empty: x", "line 2, invoices.skip_if_empty: must be a list of column names"),
        ("number_locale: xx_YY", "line 1, number_locale: 'xx_YY' is not a locale babel knows"),
        ("columns:\n  amount: {template: '{a.__class__}'}", "template fields must be plain column names"),
        ("columns:\n  amount: {template: 'x{a'}", "line 2, columns.amount.template: the template is not valid"),
        ("columns:\n  due_date: {from: d, date_format: '%Q'}", "'%Q' is not a date format such as %m/%d/%Y"),
        ("invoices: {}\npayments:\n  columns:\n    colour: {value: x}", "line 4: `colour` is not a column of payments"),
    ],
)
def test_a_map_that_cannot_be_used_is_refused_in_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ColumnMapError) as caught:
        ColumnMap.from_yaml(text, "invoices")
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    assert "pydantic" not in caught.value.message
    assert "For further information" not in caught.value.message


def test_a_map_accepts_a_credits_section_and_a_top_level_locale_for_every_section() -> None:
    text = "number_locale: de_DE\ncredits:\n  columns: {credit_id: {from: Nr}}\ninvoices: {number_locale: fr_FR}"
    assert ColumnMap.from_yaml(text, "credits").number_locale == "de_DE"
    assert ColumnMap.from_yaml(text, "invoices").number_locale == "fr_FR"


def test_a_map_reading_columns_the_file_lacks_is_not_a_map_for_that_file() -> None:
    column_map = ColumnMap.from_yaml("columns: {invoice_id: {from: nope}}", "invoices")
    with pytest.raises(ColumnMapError, match=r"the map reads column\(s\) the file does not have: `nope`"):
        column_map.check_against("invoices", ["id"])


def test_yamls_own_words_about_a_bad_map_are_cut_short_too() -> None:
    with pytest.raises(ColumnMapError) as caught:
        ColumnMap.from_yaml("a: *" + "x" * 5000, "invoices")
    assert caught.value.message.startswith(
        "the column map is not valid YAML at line 1, column 4: found undefined alias"
    )
    assert len(caught.value.message) < 200


@settings(max_examples=60)
@given(
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False),
    st.sampled_from(["de_DE", "fr_FR", "de_CH", "es_ES", "it_IT", "nl_NL", "pt_BR", "en_US"]),
)
def test_any_amount_a_locale_writes_reads_back_exactly(amount: Decimal, locale: str) -> None:
    from babel.numbers import format_decimal

    written = format_decimal(amount, format="#,##0.00", locale=locale)
    assert Decimal(plain_amount(written, locale)) == amount
