"""Answer DynamoDB's item operations with plain `json.dumps`, not moto's generic shape-walking serializer.

Pin-sensitive (moto 5.2.x private API): moto 5.2 turns every DynamoDB response into JSON by walking the
botocore output shape value by value (`moto.core.serialize`), which costs ~20 ms per 100-attribute-item
page of a BatchGetItem: most of an import's time against the emulator went there, not into anything
DynamoDB would bill. The results of the item operations are already in DynamoDB's wire form
(`dynamo_to_dict`: `{"S": ...}` values, binary as bytes), so dumping them directly gives the same answer.
tests/integration/test_moto_fast_responses.py proves boto3 reads the same responses either way.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from moto.core.responses import ActionContext
from moto.dynamodb.responses import DynamoResult

# Operations whose results are items, keys and counts only (no timestamps or nested table descriptions).
ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
    }
)
_original_execute = DynamoResult.execute_result
_installed = False


def install() -> None:
    """Idempotent; call before the emulator serves requests."""
    global _installed
    if _installed:
        return

    def execute_result(self: DynamoResult, context: ActionContext) -> Any:
        if context.operation_model.name not in ITEM_OPERATIONS or isinstance(self.result, Exception):
            return _original_execute(self, context)
        body = json.dumps(self.result, default=_wire, separators=(",", ":"))
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign,assignment]
    _installed = True


def uninstall() -> None:
    """Put moto's own serializer back (idempotent)."""
    global _installed
    DynamoResult.execute_result = _original_execute  # type: ignore[method-assign]
    _installed = False


def _wire(value: object) -> object:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not part of a DynamoDB item response")
