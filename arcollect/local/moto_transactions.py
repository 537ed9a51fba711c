"""Make moto's TransactWriteItems cost what DynamoDB's does: the items it touches, not the whole table.

moto 5.2 backs up every table a transaction touches with `copy.deepcopy(table)` so it can roll back, which
makes each payment import O(table size): seconds per payment at a few thousand invoices. Here a table
copied for that backup copies only the items named in the transaction (the rest of the table is shared,
and a transaction cannot change it). Private moto API: moto's minor version is pinned in pyproject.toml,
and tests/integration/test_moto_transactions.py proves rollback still works.
"""

from __future__ import annotations

import copy
import functools
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

# (table name → item keys the running transaction touches); None outside a transaction.
_touched: ContextVar[dict[str, list[dict[str, Any]]] | None] = ContextVar("touched", default=None)
_installed = False
_original_transact = DynamoDBBackend.transact_write_items


def install() -> None:
    """Idempotent; call before the emulator serves requests (or in a test session)."""
    global _installed
    if _installed:
        return
    original = _original_transact

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with _touching(transact_items):
            original(self, transact_items)

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.__deepcopy__ = _copy_table  # type: ignore[attr-defined]
    _installed = True


def uninstall() -> None:
    """Put moto's own transactions back (idempotent)."""
    global _installed
    if not _installed:
        return
    DynamoDBBackend.transact_write_items = _original_transact  # type: ignore[method-assign]
    del Table.__deepcopy__  # type: ignore[attr-defined]
    _installed = False


@contextmanager
def _touching(transact_items: list[dict[str, Any]]) -> Iterator[None]:
    touched: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in transact_items:
        (_, operation), *_ = item.items()
        key = operation.get("Key") or operation.get("Item")
        if operation.get("TableName") and key:
            touched[operation["TableName"]].append(key)
    token = _touched.set(touched)
    try:
        yield
    finally:
        _touched.reset(token)


def _copy_table(self: Table, memo: dict[int, Any]) -> Table:
    clone = copy.copy(self)
    touched = _touched.get()
    if touched is None:  # not a transaction's backup: copy every item
        clone.items = copy.deepcopy(self.items, memo)
        return clone
    if self.range_key_attr:
        clone.items = defaultdict(dict, {h: dict(by_range) for h, by_range in self.items.items()})
    else:
        clone.items = defaultdict(dict, self.items)
    for key in touched.get(self.name, []):
        hash_value = DynamoType(key[self.hash_key_attr])
        if self.range_key_attr:
            range_value = DynamoType(key[self.range_key_attr])
            if range_value in self.items.get(hash_value, {}):
                clone.items[hash_value][range_value] = copy.deepcopy(self.items[hash_value][range_value], memo)
        elif hash_value in self.items:
            clone.items[hash_value] = copy.deepcopy(self.items[hash_value], memo)
    return clone
