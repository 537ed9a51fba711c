"""Check an item's 400 KB limit once per item, not once per attribute, when moto stores it.

Pin-sensitive (moto 5.2.x private API): moto 5.2's `Item.__init__` sets attributes one by one into a
`LimitedSizeDict` whose `__setitem__` re-measures every attribute already set, so storing an item costs
O(attributes²) size computations: two thirds of the emulator's time in a customer import. Here the item is
measured once, with the same rule and the same limit (ItemSizeTooLarge above 405,000 bytes), so an item
too large for DynamoDB is still refused. tests/integration/test_moto_item_size.py proves both.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

# moto's own limit (between DynamoDB's documented 400 KB and the 409 to 410 KB it accepts in practice).
MOTO_ITEM_LIMIT = 405_000
_original_init = Item.__init__
_installed = False


def install() -> None:
    """Idempotent; call before the emulator serves requests."""
    global _installed
    if _installed:
        return

    def __init__(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        converted = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in converted.items()) > MOTO_ITEM_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict(converted)  # dict.update: no per-attribute re-measuring

    Item.__init__ = __init__  # type: ignore[method-assign]
    _installed = True


def uninstall() -> None:
    """Put moto's own item constructor back (idempotent)."""
    global _installed
    Item.__init__ = _original_init  # type: ignore[method-assign]
    _installed = False
