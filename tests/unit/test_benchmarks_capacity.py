"""The cost model of the dunning benchmarks: item sizes, request units, index writes and prices, as DynamoDB and
the price list define them. No moto: the meter is fed requests, responses and items directly."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.capacity import (
    CapacityMeter,
    IndexSchema,
    Prices,
    RunUsage,
    TableSchema,
    attribute_size,
    gb_seconds,
    index_write_units,
    item_size,
    item_write_units,
    number_size,
    read_counts,
    read_units,
    run_cost,
    table_schema,
    write_targets,
    write_units,
)

INVOICES = TableSchema(
    keys=("invoice_id",),
    indexes=(
        IndexSchema(
            "next_action_index",
            keys=("next_action_shard", "next_action_date"),
            table_keys=("invoice_id",),
            projection="INCLUDE",
            include=frozenset({"balance_minor"}),
        ),
        IndexSchema("by_customer", keys=("customer_id",), table_keys=("invoice_id",), projection="KEYS_ONLY"),
    ),
)


def invoice(**extra: Any) -> dict[str, dict[str, Any]]:
    item: dict[str, dict[str, Any]] = {"invoice_id": {"S": "INV-1"}, "customer_id": {"S": "C1"}}
    item.update({name: value for name, value in extra.items()})
    return item


def test_sizes_follow_dynamodb_rules() -> None:
    assert attribute_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert number_size("12345") == 4 and number_size("-0.0100") == 2 and number_size("0") == 2
    assert attribute_size({"BOOL": True}) == 1 and attribute_size({"NULL": True}) == 1
    assert attribute_size({"B": b"\x00\x01\x02"}) == 3
    assert attribute_size({"SS": ["ab", "c"]}) == 3
    assert attribute_size({"L": [{"S": "ab"}, {"S": "c"}]}) == 3 + (2 + 1) + (1 + 1)
    assert attribute_size({"M": {"k": {"S": "v"}}}) == 3 + (1 + 1 + 1)
    assert item_size({"id": {"S": "abc"}, "n": {"N": "7"}}) == (2 + 3) + (1 + 2)
    assert item_size(None) == 0


def test_units_round_up_with_a_floor_of_one() -> None:
    assert [write_units(n) for n in (0, 1, 1024, 1025, 4096)] == [1, 1, 1, 2, 4]
    assert read_units(100, consistent=True) == 1.0
    assert read_units(100, consistent=False) == 0.5
    assert read_units(4097, consistent=True) == 2.0


def test_an_update_moving_an_index_key_is_a_delete_and_a_put_in_that_index() -> None:
    index = INVOICES.indexes[0]
    before = invoice(next_action_shard={"S": "s01"}, next_action_date={"S": "2026-03-02"}, balance_minor={"N": "5"})
    moved = invoice(next_action_shard={"S": "s01"}, next_action_date={"S": "2026-03-05"}, balance_minor={"N": "5"})
    assert index_write_units(index, before, moved) == 2


def test_index_writes_count_only_what_the_index_holds() -> None:
    index = INVOICES.indexes[0]
    due = invoice(next_action_shard={"S": "s01"}, next_action_date={"S": "2026-03-02"}, balance_minor={"N": "5"})
    # A projected attribute changes: one write.
    assert index_write_units(index, due, due | {"balance_minor": {"N": "4"}}) == 1
    # An attribute the index does not project changes: none.
    assert index_write_units(index, due, due | {"touches": {"N": "1"}}) == 0
    # The item leaves the sparse index, or was never in it: one write, or none.
    assert index_write_units(index, due, invoice()) == 1
    assert index_write_units(index, invoice(), invoice(touches={"N": "2"})) == 0


def test_a_transaction_doubles_the_table_write_and_a_condition_check_writes_no_index() -> None:
    item = invoice(next_action_shard={"S": "s01"}, next_action_date={"S": "d"})
    plain = item_write_units(INVOICES, None, item)
    assert (plain.table, plain.indexes) == (1, 2)  # the new item enters both indexes
    assert item_write_units(INVOICES, None, item, transactional=True).table == 2
    check = item_write_units(INVOICES, item, item, transactional=True, check=True)
    assert (check.table, check.indexes) == (2, 0)


@given(st.lists(st.text(max_size=300), max_size=8), st.lists(st.text(max_size=300), max_size=8))
def test_a_write_costs_the_larger_of_before_and_after_whichever_way_it_goes(old: list[str], new: list[str]) -> None:
    before = invoice(**{f"a{n}": {"S": v} for n, v in enumerate(old)})
    after = invoice(**{f"a{n}": {"S": v} for n, v in enumerate(new)})
    forward = item_write_units(INVOICES, before, after)
    backward = item_write_units(INVOICES, after, before)
    assert forward == backward
    assert forward.table == write_units(max(item_size(before), item_size(after)))


def test_write_targets_name_every_item_a_request_may_change() -> None:
    schemas = {"t-invoices": INVOICES, "t-sends": TableSchema(keys=("send_key",))}
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "t-sends", "Item": {"send_key": {"S": "k"}, "x": {"S": "y"}}}},
            {"ConditionCheck": {"TableName": "t-invoices", "Key": {"invoice_id": {"S": "INV-1"}}}},
            {"Update": {"TableName": "t-invoices", "Key": {"invoice_id": {"S": "INV-2"}}}},
        ]
    }
    targets = write_targets("TransactWriteItems", transaction, schemas)
    assert [(t.table, t.key, t.transactional, t.check) for t in targets] == [
        ("t-sends", {"send_key": {"S": "k"}}, True, False),
        ("t-invoices", {"invoice_id": {"S": "INV-1"}}, True, True),
        ("t-invoices", {"invoice_id": {"S": "INV-2"}}, True, False),
    ]
    batch = {"RequestItems": {"t-sends": [{"PutRequest": {"Item": {"send_key": {"S": "a"}}}}]}}
    assert [t.key for t in write_targets("BatchWriteItem", batch, schemas)] == [{"send_key": {"S": "a"}}]
    assert write_targets("Query", {"TableName": "t-sends"}, schemas) == []


def test_a_query_reads_what_it_scanned_not_what_it_returned() -> None:
    body = {"TableName": "t-invoices", "IndexName": "by_customer", "ConsistentRead": False}
    response = {"Items": [invoice()], "Count": 1, "ScannedCount": 12}
    (counted,) = read_counts("Query", body, response)
    assert (counted.target, counted.items, counted.units) == ("t-invoices/by_customer", 12, 0.5)


def test_batch_gets_read_every_key_asked_found_or_not() -> None:
    body = {"RequestItems": {"t-invoices": {"Keys": [{}, {}, {}], "ConsistentRead": True}}}
    response = {"Responses": {"t-invoices": [invoice()]}, "UnprocessedKeys": {}}
    (counted,) = read_counts("BatchGetItem", body, response)
    assert (counted.items, counted.units) == (3, 3.0)
    (got,) = read_counts("GetItem", {"TableName": "t", "ConsistentRead": True}, {})
    assert (got.items, got.units) == (1, 1.0)


def test_table_schema_comes_from_describe_table() -> None:
    described = {
        "KeySchema": [{"AttributeName": "invoice_id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_customer",
                "KeySchema": [{"AttributeName": "customer_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status"]},
            }
        ],
    }
    schema = table_schema(described)
    assert schema.keys == ("invoice_id",)
    assert schema.indexes[0].entry(invoice(status={"S": "open"}, note={"S": "x"})) == invoice(status={"S": "open"})


def test_the_meter_counts_a_write_from_the_item_before_and_after_it() -> None:
    stored: dict[str, Any] = {}
    meter = CapacityMeter({"p-invoices": INVOICES}, lambda table, key: stored.get("item"), prefix="p-")
    meter.enabled = True
    meter.phase = "dispatch"
    new_item = invoice(next_action_shard={"S": "s01"}, next_action_date={"S": "d"})

    def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        stored["item"] = new_item
        start_response("200 OK", [])
        return [b"{}"]

    body = json.dumps({"TableName": "p-invoices", "Item": new_item}).encode()
    environ = {
        "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    assert meter.wrap(moto)(environ, lambda *args: None) == [b"{}"]
    usage = meter.usage["dispatch"]
    assert usage.requests == {"PutItem": 1}
    assert usage.write_units == {"invoices": 1}
    assert usage.index_write_units == {"invoices/next_action_index": 1, "invoices/by_customer": 1}
    assert usage.total_write_units == 3


def test_prices_of_a_run() -> None:
    usage = RunUsage(
        read_units=8e6,
        write_units=1.6e6,
        state_transitions=40_000,
        lambda_gb_seconds=1000.0,
        lambda_invocations=5_000_000,
        emails=1000,
    )
    cost = run_cost(usage, Prices())
    assert cost.dynamodb == pytest.approx(1.0 + 1.0)
    assert cost.step_functions == pytest.approx(1.0)
    assert cost.lambda_ == pytest.approx(0.0133334 + 1.0)
    assert cost.ses == pytest.approx(0.10)
    assert cost.aws == pytest.approx(cost.dynamodb + cost.step_functions + cost.lambda_)


def test_lambda_bills_each_invocation_by_the_started_millisecond_at_its_memory() -> None:
    assert gb_seconds([0.0101, 0.5], 1024) == pytest.approx(0.011 + 0.5)
    assert gb_seconds([2.0], 512) == pytest.approx(1.0)
    assert gb_seconds([], 1024) == 0
