"""`customers list` pages through DynamoDB with its own LastEvaluatedKey, and a page costs the same few requests
however many invoices the customers have. (Paging in DynamoDB's hash order, which moto does not keep, is in
tests/unit/test_accounts_list_paging.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.accounts.queries import decode_cursor, list_customers
from shared.data.binding import shared_connection
from shared.data.tables import CustomerRecord
from shared.ledger.importer import LedgerImporter


def import_customers(importer: LedgerImporter, ids: list[str]) -> None:
    rows = "".join(f"{cid},Customer {cid},USD,30\n" for cid in ids)
    text = f"customer_id,legal_name,currency,terms_days\n{rows}"
    report = importer.import_file("customers", text.encode(), source="c")
    assert report.ok, report.problems


def import_invoices(importer: LedgerImporter, customer_ids: list[str], per_customer: int, first: int = 0) -> None:
    rows = "".join(
        f"I-{cid}-{n},{cid},2026-10-01,2026-10-31,USD,10.00\n"
        for cid in customer_ids
        for n in range(first, first + per_customer)
    )
    text = f"invoice_id,customer_id,issue_date,due_date,currency,amount\n{rows}"
    report = importer.import_file("invoices", text.encode(), source="i")
    assert report.ok, report.problems


@contextmanager
def botocore_hook(event: str, handler: Any) -> Iterator[None]:
    events = shared_connection().client.meta.events
    events.register(event, handler, unique_id="test-hook")
    try:
        yield
    finally:
        events.unregister(event, unique_id="test-hook")


@contextmanager
def dynamodb_requests() -> Iterator[list[str]]:
    """Every DynamoDB operation the models send, counted at botocore's own hook (retries aside)."""
    calls: list[str] = []
    with botocore_hook("before-call.dynamodb", lambda model, **_: calls.append(model.name)):
        yield calls


def all_pages(limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = list_customers(limit=limit, after=cursor)
        pages.append([c.customer_id for c in page.customers])
        if page.next is None:
            return pages
        cursor = page.next


def test_paging_returns_every_customer_exactly_once(importer: LedgerImporter) -> None:
    ids = [f"C{n:03}" for n in range(40)]
    import_customers(importer, ids)
    pages = all_pages(limit=7)
    assert sorted(cid for page in pages for cid in page) == ids
    assert [len(page) for page in pages] == [7, 7, 7, 7, 7, 5]


def test_the_cursor_is_the_last_evaluated_key_dynamodb_returned(importer: LedgerImporter) -> None:
    import_customers(importer, [f"C{n}" for n in range(10)])
    returned: list[object] = []
    with botocore_hook("after-call.dynamodb.Scan", lambda parsed, **_: returned.append(parsed["LastEvaluatedKey"])):
        page = list_customers(limit=4)
    assert returned and decode_cursor(page.next) == returned[-1]


def test_a_page_smaller_than_the_table_says_where_to_continue(importer: LedgerImporter) -> None:
    import_customers(importer, ["A", "B", "C"])
    first = list_customers(limit=2)
    assert len(first.customers) == 2 and first.next is not None
    rest = list_customers(limit=2, after=first.next)
    assert {c.customer_id for c in first.customers} | {c.customer_id for c in rest.customers} == {"A", "B", "C"}
    assert rest.next is None


def test_a_list_page_costs_one_request_however_many_invoices_the_customers_have(importer: LedgerImporter) -> None:
    ids = [f"C{n}" for n in range(12)]
    import_customers(importer, ids)
    import_invoices(importer, ids, per_customer=1)
    with dynamodb_requests() as few:
        assert len(list_customers(limit=100).customers) == 12
    import_invoices(importer, ids, per_customer=40, first=1)
    with dynamodb_requests() as many:
        assert len(list_customers(limit=100).customers) == 12
    assert few == many == ["Scan"]


def test_the_list_reads_open_balances_from_the_customer_item(importer: LedgerImporter) -> None:
    import_customers(importer, ["C1"])
    customer = CustomerRecord.get("C1")
    customer.update(
        actions=[
            CustomerRecord.open_minor.set({"USD": 125000, "EUR": 0, "JPY": 5000}),
            CustomerRecord.open_invoices.set(3),
            CustomerRecord.credit_minor.set({"USD": 1050}),
        ]
    )
    [listed] = list_customers().customers
    assert listed.open_balance == {"JPY": "5000", "USD": "1250.00"}  # a settled currency is not listed
    assert listed.open_invoices == 3
    assert listed.credit_balance == {"USD": "10.50"}
