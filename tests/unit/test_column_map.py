from pathlib import Path

import pytest

from shared.errors import FileFormatError
from shared.ledger.column_map import ColumnMap
from shared.ledger.rows import parse_invoice, parse_payment

MAP_FILE = Path(__file__).parents[2] / "maps" / "ibm-watson-ar.yaml"
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
    text = MAP_FILE.read_text()
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


def test_an_unparseable_date_is_left_for_the_row_check_to_report() -> None:
    column_map = ColumnMap.from_yaml("columns: {issue_date: {from: d, date_format: '%m/%d/%Y'}}", "invoices")
    assert column_map.apply("invoices", {"d": "13/45/2013"})["issue_date"] == "13/45/2013"


@pytest.mark.parametrize(
    ("text", "header", "message"),
    [
        ("columns: {invoice_id: {from: nope}}", ["id"], "does not have: nope"),
        ("columns: {colour: {value: red}}", ["id"], "do not have: colour"),
        ("columns: {invoice_id: {from: a, value: b}}", ["a"], "exactly one of"),
        ("customers: {columns: {}}", ["a"], "no `invoices:` section"),
        ("- a list", ["a"], "YAML mapping"),
        ("columns: [unclosed", ["a"], "not valid"),
    ],
)
def test_a_bad_map_is_a_file_level_fault(text: str, header: list[str], message: str) -> None:
    with pytest.raises(FileFormatError, match=message):
        ColumnMap.from_yaml(text, "invoices").check_against("invoices", header)
