"""Create, in the emulator, the resources CDK creates in an account: tables (from the PynamoDB models'
specs, never by hand), the two TIN keys, the verified sender, the ingest bucket and its queue.

Each step creates only what is missing, because a local system restarted on its saved state already has
its tables, keys and bucket, and they must be kept (the TINs are encrypted under those keys)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from arcollect.local.deployment import LocalDeployment
from shared.data.schema import IndexSpec, KeyAttr, TableSpec, all_table_specs
from shared.ledger.drop_folder import INCOMING


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
                "Projection": _projection(index),
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


def _projection(index: IndexSpec) -> dict[str, Any]:
    if index.non_key_attributes:
        return {"ProjectionType": index.projection, "NonKeyAttributes": list(index.non_key_attributes)}
    return {"ProjectionType": index.projection}


class TableSchemaChanged(RuntimeError):
    """A kept table's keys differ from the model's: its items cannot be carried over automatically."""


def _existing_tables(dynamodb: Any) -> set[str]:
    return {name for page in dynamodb.get_paginator("list_tables").paginate() for name in page["TableNames"]}


def provision_tables(dynamodb: Any, table_prefix: str) -> list[str]:
    """Create the tables that do not exist yet; bring the indexes of those that do (kept from an earlier
    run) in line with the models, so a release that changes a projection needs no `--fresh`."""
    existing = _existing_tables(dynamodb)
    names = []
    for spec in all_table_specs():
        name = f"{table_prefix}{spec.key}"
        request = create_table_request(spec, name)
        if name in existing:
            reconcile_indexes(dynamodb, request)
        else:
            dynamodb.create_table(**request)
            if spec.ttl_attribute:
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
                )
        names.append(name)
    return names


def _index_shape(index: dict[str, Any]) -> tuple[Any, ...]:
    projection = index.get("Projection", {})
    return (
        tuple((k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]),
        projection.get("ProjectionType"),
        tuple(sorted(projection.get("NonKeyAttributes", ()))),
    )


def reconcile_indexes(dynamodb: Any, request: dict[str, Any]) -> list[str]:
    """Make an existing table's global indexes those of `request` (its CreateTable call): drop the ones
    no model has, re-create the ones whose keys or projection changed, add the new ones. Returns the index
    names changed. Raises TableSchemaChanged when the table's own keys differ."""
    name = request["TableName"]
    table = dynamodb.describe_table(TableName=name)["Table"]
    if _index_shape({"KeySchema": table["KeySchema"]})[0] != _index_shape({"KeySchema": request["KeySchema"]})[0]:
        raise TableSchemaChanged(f"the keys of table {name} changed")
    have = {index["IndexName"]: index for index in table.get("GlobalSecondaryIndexes", [])}
    want = {index["IndexName"]: index for index in request.get("GlobalSecondaryIndexes", [])}
    changed = []
    for index_name, index in have.items():
        if index_name not in want or _index_shape(index) != _index_shape(want[index_name]):
            dynamodb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": index_name}}])
            changed.append(index_name)
    for index_name, index in want.items():
        if index_name not in have or index_name in changed:
            dynamodb.update_table(
                TableName=name,
                AttributeDefinitions=request["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": index}],
            )
            if index_name not in changed:
                changed.append(index_name)
    return changed


def _alias_exists(kms: Any, alias: str) -> bool:
    return any(
        a["AliasName"] == alias for page in kms.get_paginator("list_aliases").paginate() for a in page["Aliases"]
    )


def provision_tin_keys(kms: Any, deployment: LocalDeployment) -> None:
    """The symmetric key that encrypts TINs and the HMAC key that fingerprints them, under their aliases.
    A key kept from an earlier run is kept: the TINs stored under it must stay readable."""
    if not _alias_exists(kms, deployment.tin_key_alias):
        tin_key = kms.create_key(
            Description="arcollect local: encrypts TINs", KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT"
        )
        kms.create_alias(AliasName=deployment.tin_key_alias, TargetKeyId=tin_key["KeyMetadata"]["KeyId"])
    if not _alias_exists(kms, deployment.tin_mac_key_alias):
        mac_key = kms.create_key(
            Description="arcollect local: fingerprints TINs", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
        )
        kms.create_alias(AliasName=deployment.tin_mac_key_alias, TargetKeyId=mac_key["KeyMetadata"]["KeyId"])


def provision_sender(ses: Any, sender_email: str) -> None:
    ses.verify_email_identity(EmailAddress=sender_email)


def provision_ingest_bucket(s3: Any, bucket: str, region: str) -> None:
    if bucket in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        return
    if region == "us-east-1":  # the one region where CreateBucket refuses a location constraint
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


@dataclass(frozen=True)
class IngestQueue:
    url: str
    arn: str


# As infra/constructs/ledger_ingest.py: a message hides for longer than any attempt takes, and a file
# that fails every attempt goes to the dead-letter queue.
INGEST_VISIBILITY_TIMEOUT_S = 1800
INGEST_DELIVERY_ATTEMPTS = 3


def provision_ingest_queue(sqs: Any, s3: Any, deployment: LocalDeployment) -> IngestQueue:
    """The drop folder's queue and dead-letter queue, and the bucket notification that feeds it (CDK's
    LedgerIngest construct). Creating a queue that exists with the same attributes is a no-op."""
    names = deployment.names
    dead_letters = sqs.create_queue(QueueName=names.ledger_ingest_dead_letter_queue)["QueueUrl"]
    dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=names.ledger_ingest_queue,
        Attributes={
            "VisibilityTimeout": str(INGEST_VISIBILITY_TIMEOUT_S),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": INGEST_DELIVERY_ATTEMPTS}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=deployment.ingest_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "ledger-ingest",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": INCOMING},
                                {"Name": "suffix", "Value": ".csv"},
                            ]
                        }
                    },
                }
            ]
        },
    )
    return IngestQueue(url=queue, arn=queue_arn)
