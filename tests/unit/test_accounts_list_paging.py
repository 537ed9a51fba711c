"""Paging `customers list` the way DynamoDB scans: in hash order, not id order. (moto scans in key order,
where "continue after the last id of the sorted page" happens to work, so this runs against a fake scan
that keeps DynamoDB's order.)"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from shared.accounts import queries
from shared.accounts.queries import list_customers
from shared.data.tables import CustomerRecord

Key = dict[str, dict[str, str]]


def _hash_order(customer_id: str) -> bytes:
    return hashlib.sha256(customer_id.encode()).digest()


class HashOrderScan:
    """DynamoDB's Scan as PynamoDB returns it: items in hash order, `Limit` items at most, and the key of the
    last item evaluated as LastEvaluatedKey whenever the limit stopped the scan."""

    def __init__(self, items: list[CustomerRecord], limit: int, start: Key | None) -> None:
        ordered = sorted(items, key=lambda c: _hash_order(c.customer_id))
        if start is not None:
            after = _hash_order(start["customer_id"]["S"])
            ordered = [c for c in ordered if _hash_order(c.customer_id) > after]
        self._page = ordered[:limit]
        stopped = len(ordered) >= limit
        self.last_evaluated_key = {"customer_id": {"S": self._page[-1].customer_id}} if stopped else None

    def __iter__(self) -> Iterator[CustomerRecord]:
        return iter(self._page)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> list[CustomerRecord]:
    items: list[CustomerRecord] = []

    def scan(limit: int, last_evaluated_key: Key | None = None, **_: Any) -> HashOrderScan:
        return HashOrderScan(items, limit, last_evaluated_key)

    monkeypatch.setattr(queries.CustomerRecord, "scan", scan)
    return items


def test_paging_in_hash_order_returns_every_customer_once(table: list[CustomerRecord]) -> None:
    ids = [f"CUST-{n:04}" for n in range(53)]
    table.extend(CustomerRecord(customer_id=cid, legal_name=f"Customer {cid}") for cid in ids)
    seen: list[str] = []
    cursor = None
    for _ in range(100):  # a cursor that never ends would be a bug, not a reason to hang
        page = list_customers(limit=10, after=cursor)
        seen.extend(c.customer_id for c in page.customers)
        if page.next is None:
            break
        cursor = page.next
    assert sorted(seen) == ids


def test_each_page_is_shown_in_id_order(table: list[CustomerRecord]) -> None:
    table.extend(CustomerRecord(customer_id=cid) for cid in ("C", "A", "D", "B"))
    assert [c.customer_id for c in list_customers(limit=10).customers] == ["A", "B", "C", "D"]
