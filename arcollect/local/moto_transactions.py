"""Make moto's TransactWriteItems cost what DynamoDB's does: the items it touches, not the whole table.

moto 5.2 backs up a table for every item of a transaction (`copy.deepcopy(table)`, once per item) so it can
roll back by putting the copy in the table's place: each payment or invoice batch cost O(items x table).
Here the backup is of the touched items only, taken once per transaction, and a failed transaction puts
those items back into the live table (removing the ones it had created); the table copies moto asks for
while a transaction runs are the table itself. Private moto API: moto's minor version is pinned in
pyproject.toml, and tests/integration/test_moto_transactions.py proves rollback still works.

Isolation: the server answers requests on many threads and moto's backend has no lock. A transaction that
is cancelled puts its backups back, which would undo a write another thread made meanwhile (two overlapping
dunning runs lost an invoice update that way). One lock therefore serialises transactions with each other and
with single-item writes, as DynamoDB's own isolation would.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections import defaultdict
from contextvars import ContextVar
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

# Set while a transaction runs in this thread: moto's whole-table backups are then skipped.
_in_transaction: ContextVar[bool] = ContextVar("in_transaction", default=False)
_installed = False
_original_transact = DynamoDBBackend.transact_write_items
_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item")
_original_writes = {name: getattr(DynamoDBBackend, name) for name in _WRITES}
_write_lock = threading.RLock()


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def write(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            return method(self, *args, **kwargs)

    return write


def install() -> None:
    """Idempotent; call before the emulator serves requests (or in a test session)."""
    global _installed
    if _installed:
        return
    original = _original_transact

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with _write_lock:
            keys = _touched_keys(transact_items)
            backup = _backup(self, keys)
            token = _in_transaction.set(True)
            try:
                original(self, transact_items)
            except Exception:
                _restore(self, backup)
                raise
            finally:
                _in_transaction.reset(token)

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    for name, method in _original_writes.items():
        setattr(DynamoDBBackend, name, _serialised(method))
    Table.__deepcopy__ = _copy_table  # type: ignore[attr-defined]
    _installed = True


def uninstall() -> None:
    """Put moto's own transactions back (idempotent)."""
    global _installed
    if not _installed:
        return
    DynamoDBBackend.transact_write_items = _original_transact  # type: ignore[method-assign]
    for name, method in _original_writes.items():
        setattr(DynamoDBBackend, name, method)
    del Table.__deepcopy__  # type: ignore[attr-defined]
    _installed = False


def _touched_keys(transact_items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    touched: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in transact_items:
        (_, operation), *_ = item.items()
        key = operation.get("Key") or operation.get("Item")
        if operation.get("TableName") and key:
            touched[operation["TableName"]].append(key)
    return touched


_Slot = tuple[str, DynamoType, DynamoType | None]


def _backup(backend: DynamoDBBackend, keys: dict[str, list[dict[str, Any]]]) -> dict[_Slot, Any]:
    """Each touched item as it is now (None: absent), deep-copied so the transaction cannot change it."""
    saved: dict[_Slot, Any] = {}
    for table_name, table_keys in keys.items():
        table = backend.tables.get(table_name)
        if table is None:
            continue
        for key in table_keys:
            if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
                continue  # a malformed key: moto refuses the transaction before writing anything
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            if range_value is not None:
                current = table.items.get(hash_value, {}).get(range_value)
            else:
                current = table.items.get(hash_value)
            saved[(table_name, hash_value, range_value)] = copy.deepcopy(current)
    return saved


def _restore(backend: DynamoDBBackend, saved: dict[_Slot, Any]) -> None:
    for (table_name, hash_value, range_value), item in saved.items():
        table = backend.tables[table_name]
        if range_value is not None:
            by_range = table.items[hash_value]
            if item is None:
                by_range.pop(range_value, None)
                if not by_range:
                    table.items.pop(hash_value, None)
            else:
                by_range[range_value] = item
        elif item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item


def _copy_table(self: Table, memo: dict[int, Any]) -> Table:
    """Inside a transaction moto's own backup is not needed (the touched items are saved): no copy at all."""
    if _in_transaction.get():
        return self
    clone = copy.copy(self)
    clone.items = copy.deepcopy(self.items, memo)
    return clone
