"""moto measures an item once (arcollect/local/moto_item_size.py) and still refuses one over the limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from arcollect.local import moto_item_size


@pytest.fixture
def table() -> Iterator[Any]:
    was_installed = moto_item_size._installed
    moto_item_size.install()
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            client.create_table(
                TableName="t",
                KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            yield client
    finally:
        (moto_item_size.install if was_installed else moto_item_size.uninstall)()


def test_an_item_is_stored_and_read_back_whole(table: Any) -> None:
    item = {"k": {"S": "a"}, **{f"attr{n}": {"S": "x" * n} for n in range(60)}, "n": {"N": "1.5"}}

    table.put_item(TableName="t", Item=item)

    assert table.get_item(TableName="t", Key={"k": {"S": "a"}})["Item"] == item


def test_an_item_over_dynamodbs_limit_is_still_refused(table: Any) -> None:
    big = {"k": {"S": "a"}, "one": {"S": "x" * 300_000}, "two": {"S": "y" * 150_000}}

    with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        table.put_item(TableName="t", Item=big)


def test_uninstall_puts_motos_own_item_constructor_back() -> None:
    from moto.dynamodb.models.dynamo_type import Item

    was_installed = moto_item_size._installed
    moto_item_size.install()
    moto_item_size.uninstall()
    restored = Item.__init__
    if was_installed:
        moto_item_size.install()

    assert restored is moto_item_size._original_init
