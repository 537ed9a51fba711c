"""Create, in the emulator, the resources CDK creates in an account: tables (from the PynamoDB models'
specs, never by hand), the two TIN keys, the verified sender and the ingest bucket."""

from __future__ import annotations

from typing import Any

from arcollect.local.deployment import LocalDeployment
from shared.data.schema import KeyAttr, TableSpec, all_table_specs


def _key_schema(partition_key: KeyAttr, sort_key: KeyAttr | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition_key.name, "KeyType": "HASH"}]
    if sort_key is not None:
        schema.append({"AttributeName": sort_key.name, "KeyType": "RANGE"})
    return schema


def create_table_request(spec: TableSpec, table_name: str) -> dict[str, Any]:
    """The CreateTable call for one spec: keys, every index and its projection, on-demand billing."""
    attributes: dict[str, str] = {}
    for key in (spec.partition_key, spec.sort_key):
        if key is not None:
            attributes[key.name] = key.type
    indexes = []
    for index in spec.indexes:
        for key in (index.partition_key, index.sort_key):
            if key is not None:
                attributes[key.name] = key.type
        indexes.append(
            {
                "IndexName": index.name,
                "KeySchema": _key_schema(index.partition_key, index.sort_key),
                "Projection": {"ProjectionType": index.projection},
            }
        )
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": _key_schema(spec.partition_key, spec.sort_key),
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    return request


def provision_tables(dynamodb: Any, table_prefix: str) -> list[str]:
    names = []
    for spec in all_table_specs():
        name = f"{table_prefix}{spec.key}"
        dynamodb.create_table(**create_table_request(spec, name))
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
        names.append(name)
    return names


def provision_tin_keys(kms: Any, deployment: LocalDeployment) -> None:
    """The symmetric key that encrypts TINs and the HMAC key that fingerprints them, under their aliases."""
    tin_key = kms.create_key(
        Description="arcollect local: encrypts TINs", KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT"
    )
    kms.create_alias(AliasName=deployment.tin_key_alias, TargetKeyId=tin_key["KeyMetadata"]["KeyId"])
    mac_key = kms.create_key(
        Description="arcollect local: fingerprints TINs", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
    )
    kms.create_alias(AliasName=deployment.tin_mac_key_alias, TargetKeyId=mac_key["KeyMetadata"]["KeyId"])


def provision_sender(ses: Any, sender_email: str) -> None:
    ses.verify_email_identity(EmailAddress=sender_email)


def provision_ingest_bucket(s3: Any, bucket: str, region: str) -> None:
    if region == "us-east-1":  # the one region where CreateBucket refuses a location constraint
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
