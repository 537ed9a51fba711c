"""Tables come from the PynamoDB models, encrypted with our key, recoverable, protected in prod."""

from __future__ import annotations

from typing import Any

import pytest
from synthesized_app import Synthesized

from shared.data.schema import KeyAttr, TableSpec, all_table_specs

SPECS = all_table_specs()


def _table(synth: Synthesized, spec: TableSpec) -> dict[str, Any]:
    name = f"{synth.config.table_prefix}{spec.key}"
    matches = [
        resource
        for resource in synth.resources("AWS::DynamoDB::Table").values()
        if resource["Properties"]["TableName"] == name
    ]
    assert len(matches) == 1, f"expected one table named {name}"
    return matches[0]


def _key_schema(partition: KeyAttr, sort: KeyAttr | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


def test_one_table_per_model_and_no_other(dev: Synthesized) -> None:
    names = {r["Properties"]["TableName"] for r in dev.resources("AWS::DynamoDB::Table").values()}
    assert names == {f"arcollect-dev-{spec.key}" for spec in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.key)
def test_table_keys_indexes_and_ttl_match_the_model(dev: Synthesized, spec: TableSpec) -> None:
    properties = _table(dev, spec)["Properties"]

    assert properties["KeySchema"] == _key_schema(spec.partition_key, spec.sort_key)
    declared = {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]}
    used = [spec.partition_key, spec.sort_key] + [
        key for index in spec.indexes for key in (index.partition_key, index.sort_key)
    ]
    assert declared == {key.name: key.type for key in used if key}

    indexes = {
        index["IndexName"]: (
            index["KeySchema"],
            index["Projection"]["ProjectionType"],
            tuple(sorted(index["Projection"].get("NonKeyAttributes", []))),
        )
        for index in properties.get("GlobalSecondaryIndexes", [])
    }
    assert indexes == {
        index.name: (_key_schema(index.partition_key, index.sort_key), index.projection, index.non_key_attributes)
        for index in spec.indexes
    }

    if spec.ttl_attribute:
        assert properties["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in properties


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.key)
def test_table_is_on_demand_recoverable_and_encrypted_with_a_rotating_cmk(dev: Synthesized, spec: TableSpec) -> None:
    properties = _table(dev, spec)["Properties"]

    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    sse = properties["SSESpecification"]
    assert sse["SSEEnabled"] is True
    assert sse["SSEType"] == "KMS"
    key_id = sse["KMSMasterKeyId"]["Fn::GetAtt"][0]
    key = dev.resource(key_id)
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True


def test_prod_tables_are_protected_and_retained(prod: Synthesized) -> None:
    for logical_id, table in prod.resources("AWS::DynamoDB::Table").items():
        assert table["Properties"]["DeletionProtectionEnabled"] is True, logical_id
        assert table["DeletionPolicy"] == "Retain", logical_id
        assert table["UpdateReplacePolicy"] == "Retain", logical_id


def test_dev_tables_go_with_the_stack(dev: Synthesized) -> None:
    for logical_id, table in dev.resources("AWS::DynamoDB::Table").items():
        assert table["Properties"].get("DeletionProtectionEnabled", False) is False, logical_id
        assert table["DeletionPolicy"] == "Delete", logical_id


def test_stateful_resources_follow_the_stage_removal_policy(stage: Synthesized) -> None:
    expected = "Retain" if stage.config.is_production else "Delete"
    for resource_type in ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Logs::LogGroup"):
        for logical_id, resource in stage.resources(resource_type).items():
            assert resource["DeletionPolicy"] == expected, logical_id


def test_tin_keys_encrypt_and_fingerprint(dev: Synthesized) -> None:
    keys = {
        logical_id: key["Properties"]
        for logical_id, key in dev.resources("AWS::KMS::Key").items()
        if "TIN" in key["Properties"]["Description"]
    }
    by_usage = {properties.get("KeyUsage", "ENCRYPT_DECRYPT"): (lid, properties) for lid, properties in keys.items()}
    assert set(by_usage) == {"ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC"}
    assert by_usage["ENCRYPT_DECRYPT"][1]["EnableKeyRotation"] is True
    assert by_usage["GENERATE_VERIFY_MAC"][1]["KeySpec"] == "HMAC_256"

    for function in dev.our_functions().values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["ARCOLLECT_TIN_KEY_ID"] == {"Fn::GetAtt": [by_usage["ENCRYPT_DECRYPT"][0], "Arn"]}
        assert variables["ARCOLLECT_TIN_MAC_KEY_ID"] == {"Fn::GetAtt": [by_usage["GENERATE_VERIFY_MAC"][0], "Arn"]}
