"""The emulator's fast DynamoDB responses read exactly like moto's own (arcollect/local/moto_fast_responses.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto import mock_aws

from arcollect.local import moto_fast_responses

ITEM = {
    "k": {"S": "a"},
    "r": {"S": "1"},
    "blob": {"B": b"\x00\xff\x10"},
    "amount": {"N": "12.50"},
    "tags": {"SS": ["x", "y"]},
    "blobs": {"BS": [b"\x01", b"\x02"]},
    "nested": {"M": {"list": {"L": [{"N": "1"}, {"NULL": True}, {"BOOL": False}, {"S": "é\u202e"}]}}},
}


def conversation(client: Any) -> list[Any]:
    """Every item operation the ledger and the local system use, each answer as boto3 reads it."""
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "k", "AttributeType": "S"},
            {"AttributeName": "r", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    answers = [client.put_item(TableName="t", Item=ITEM)]
    second = {**ITEM, "r": {"S": "2"}}
    answers.append(client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": second}}]}))
    key = {"k": {"S": "a"}, "r": {"S": "1"}}
    answers.append(client.get_item(TableName="t", Key=key, ConsistentRead=True))
    answers.append(client.batch_get_item(RequestItems={"t": {"Keys": [key], "ConsistentRead": True}}))
    answers.append(
        client.query(
            TableName="t", KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": {"S": "a"}}, Limit=1
        )
    )
    answers.append(client.scan(TableName="t"))
    answers.append(client.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": key}}]))
    answers.append(
        client.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET amount = :a",
            ExpressionAttributeValues={":a": {"N": "3"}},
            ReturnValues="ALL_NEW",
        )
    )
    answers.append(client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": ITEM}}]))
    answers.append(client.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD"))
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": second, "ConditionExpression": "attribute_not_exists(k)"}}
            ]
        )
    answers.append(cancelled.value.response["CancellationReasons"])
    return [_without_metadata(a) for a in answers]


def _without_metadata(answer: Any) -> Any:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"} if isinstance(answer, dict) else answer


def answers_with(setup: Callable[[], None]) -> list[Any]:
    was_installed = moto_fast_responses._installed
    setup()
    try:
        with mock_aws():
            return conversation(boto3.client("dynamodb", region_name="us-east-1"))
    finally:
        (moto_fast_responses.install if was_installed else moto_fast_responses.uninstall)()


def test_boto3_reads_the_fast_answers_exactly_as_it_reads_motos_own() -> None:
    own = answers_with(moto_fast_responses.uninstall)
    fast = answers_with(moto_fast_responses.install)

    assert fast == own
    assert fast[3]["Responses"]["t"][0]["blob"] == {"B": b"\x00\xff\x10"}


def test_uninstall_puts_motos_serializer_back() -> None:
    from moto.dynamodb.responses import DynamoResult

    was_installed = moto_fast_responses._installed
    moto_fast_responses.install()
    moto_fast_responses.uninstall()
    restored = DynamoResult.execute_result
    if was_installed:
        moto_fast_responses.install()

    assert restored is moto_fast_responses._original_execute
