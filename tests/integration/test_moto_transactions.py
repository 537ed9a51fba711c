"""The emulator's faster transaction backup must still roll a failed transaction back whole."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from arcollect.local import moto_transactions


@pytest.fixture
def tables():
    moto_transactions.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="plain",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.create_table(
            TableName="ranged",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(50):
            client.put_item(TableName="plain", Item={"pk": {"S": f"p{i}"}, "n": {"N": "1"}})
            client.put_item(TableName="ranged", Item={"pk": {"S": "h"}, "sk": {"S": f"s{i}"}, "n": {"N": "1"}})
        yield client


def set_n_to_two(table: str, key: dict) -> dict:
    return {
        "Update": {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "SET n = :two",
            "ExpressionAttributeValues": {":two": {"N": "2"}},
        }
    }


def test_a_failed_transaction_leaves_every_item_as_it_was(tables) -> None:
    with pytest.raises(ClientError, match="TransactionCanceled"):
        tables.transact_write_items(
            TransactItems=[
                set_n_to_two("plain", {"pk": {"S": "p1"}}),
                set_n_to_two("ranged", {"pk": {"S": "h"}, "sk": {"S": "s1"}}),
                {"Put": {"TableName": "plain", "Item": {"pk": {"S": "new"}}}},
                {
                    "Put": {
                        "TableName": "plain",
                        "Item": {"pk": {"S": "p2"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert tables.get_item(TableName="plain", Key={"pk": {"S": "p1"}})["Item"]["n"] == {"N": "1"}
    assert tables.get_item(TableName="ranged", Key={"pk": {"S": "h"}, "sk": {"S": "s1"}})["Item"]["n"] == {"N": "1"}
    assert "Item" not in tables.get_item(TableName="plain", Key={"pk": {"S": "new"}})
    assert tables.scan(TableName="plain")["Count"] == 50


def test_a_successful_transaction_applies_every_item(tables) -> None:
    tables.transact_write_items(
        TransactItems=[
            set_n_to_two("plain", {"pk": {"S": "p1"}}),
            {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "h"}, "sk": {"S": "new"}}}},
        ]
    )
    assert tables.get_item(TableName="plain", Key={"pk": {"S": "p1"}})["Item"]["n"] == {"N": "2"}
    assert tables.scan(TableName="ranged")["Count"] == 51


def test_uninstall_puts_motos_own_transactions_back_and_install_brings_ours_again() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    moto_transactions.uninstall()
    try:
        restored = DynamoDBBackend.transact_write_items
        copies_whole_tables = not hasattr(Table, "__deepcopy__")
    finally:
        moto_transactions.install()

    assert restored is moto_transactions._original_transact
    assert copies_whole_tables
    assert DynamoDBBackend.transact_write_items is not moto_transactions._original_transact


def test_a_failed_transaction_removes_the_items_it_created_under_a_new_partition(tables) -> None:
    with pytest.raises(ClientError, match="TransactionCanceled"):
        tables.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "fresh"}, "sk": {"S": "a"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "plain",
                        "Key": {"pk": {"S": "p3"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert (
        tables.query(
            TableName="ranged", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "fresh"}}
        )["Count"]
        == 0
    )
    assert tables.scan(TableName="ranged")["Count"] == 50


def test_a_cancelled_transaction_never_undoes_a_write_another_thread_made_meanwhile(tables) -> None:
    """Overlapping dunning runs: one run's cancelled claim must not put back an invoice the other run moved on.
    A race, so it is run many times; without the write lock it lost updates in a few percent of rounds."""
    import threading

    rounds = 150
    failing = [
        set_n_to_two("plain", {"pk": {"S": "p3"}}),
        {
            "ConditionCheck": {
                "TableName": "plain",
                "Key": {"pk": {"S": "p4"}},
                "ConditionExpression": "n = :x",
                "ExpressionAttributeValues": {":x": {"N": "99"}},
            }
        },
    ]

    def cancelled_transactions() -> None:
        for _ in range(rounds):
            with pytest.raises(ClientError):
                tables.transact_write_items(TransactItems=failing)

    def increments() -> None:
        for _ in range(rounds):
            tables.update_item(
                TableName="plain",
                Key={"pk": {"S": "p3"}},
                UpdateExpression="ADD m :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    threads = [threading.Thread(target=cancelled_transactions), threading.Thread(target=increments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert tables.get_item(TableName="plain", Key={"pk": {"S": "p3"}})["Item"]["m"] == {"N": str(rounds)}
