"""The local system does not grow with every write: moto's dashboard tracking is off in the emulator (the
pin-sensitive hook in arcollect/local/moto_memory.py)."""

from __future__ import annotations

from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from arcollect.local import moto_memory
from arcollect.local.emulator import Emulator


def _rewrite_one_item(emulator: Emulator, times: int) -> None:
    dynamodb = emulator.client("dynamodb")
    table = f"{emulator.deployment.table_prefix}customers"
    for n in range(times):
        dynamodb.put_item(TableName=table, Item={"customer_id": {"S": "CUST-1"}, "legal_name": {"S": f"v{n}"}})
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table, "Item": {"customer_id": {"S": "CUST-2"}}}}]
    )


def test_items_replaced_and_tables_copied_by_transactions_are_not_kept_by_moto(emulator: Emulator) -> None:
    _rewrite_one_item(emulator, 20)

    assert Item.instances_tracked == []  # type: ignore[attr-defined]
    assert Table.instances_tracked == []  # type: ignore[attr-defined]


def test_without_the_hook_moto_keeps_every_item_it_ever_made(emulator: Emulator) -> None:
    moto_memory.uninstall()
    try:
        _rewrite_one_item(emulator, 20)
        # (Tables are no longer copied by transactions at all: arcollect/local/moto_transactions.py.)
        assert len(Item.instances_tracked) >= 20  # type: ignore[attr-defined]
    finally:
        moto_memory.install()
