"""The S3 drop folder through its queue: S3 notifies an SQS queue, the messages received from it are handed
to the real handler as Lambda's event source would, and the handler answers which ones failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from arcollect.local.lambda_context import LocalLambdaContext
from functions.ledger_ingest import handler as ingest
from shared.data.tables import CustomerRecord
from shared.settings import RuntimeSettings, SettingsError, runtime_settings

CUSTOMERS_CSV = b"customer_id,legal_name,ap_email\nC1,Acme,ap@acme-corp.com\nC2,,\n,x,\n"


class DropFolder:
    """The ingest bucket with its notification queue, as CDK's LedgerIngest construct wires them."""

    def __init__(self, settings: RuntimeSettings) -> None:
        assert settings.ingest_bucket is not None
        self.bucket = settings.ingest_bucket
        self.s3 = boto3.client("s3", region_name=settings.region)
        self.sqs = boto3.client("sqs", region_name=settings.region)
        self.queue_url = self.sqs.create_queue(QueueName="ledger-ingest")["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": self.queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                    }
                ]
            },
        )

    def drop(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def report(self, key: str) -> dict[str, Any]:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def report_keys(self) -> list[str]:
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket, Prefix="reports/").get("Contents", [])]

    def receive(self) -> list[dict[str, Any]]:
        """Every message waiting: S3's test event first, then one notification per file dropped."""
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            messages.extend(batch)
        return messages

    def lambda_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The SQS event Lambda's event source mapping hands the function for these messages."""
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }


@pytest.fixture
def handler_env(aws: None, settings: RuntimeSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in settings.as_environment().items():
        monkeypatch.setenv(name, value)
    runtime_settings.cache_clear()
    ingest.drop_folder.cache_clear()
    yield
    runtime_settings.cache_clear()
    ingest.drop_folder.cache_clear()


@pytest.fixture
def folder(handler_env: None, settings: RuntimeSettings) -> DropFolder:
    return DropFolder(settings)


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return ingest.handler(
        event, LocalLambdaContext("ledger_ingest", "arn:aws:lambda:us-east-1:123456789012:function:ledger_ingest")
    )


def test_a_dropped_file_is_imported_and_reported_beside_the_kept_original(folder: DropFolder) -> None:
    key = "incoming/customers/2026-11-22 export.csv"  # S3 notifications URL-encode the space
    folder.drop(key, CUSTOMERS_CSV)

    result = invoke(folder.lambda_event(folder.receive()))

    assert result == {"batchItemFailures": []}
    report = folder.report("reports/customers/2026-11-22 export.csv.json")
    assert (report["status"], report["created"], report["rejected"]) == ("done_with_rejections", 2, 1)
    assert report["problems"][-1] == {
        "line": 4,
        "severity": "error",
        "reason": "customer_id is required",
        "record_id": None,
    }
    assert CustomerRecord.get("C1").legal_name == "Acme"
    assert folder.s3.get_object(Bucket=folder.bucket, Key=key)["Body"].read() == CUSTOMERS_CSV


def test_a_batch_with_one_malformed_message_fails_only_that_message_and_imports_the_good_one(
    folder: DropFolder,
) -> None:
    folder.drop("incoming/customers/good.csv", CUSTOMERS_CSV)
    bad_id = folder.sqs.send_message(QueueUrl=folder.queue_url, MessageBody="{not json")["MessageId"]
    messages = folder.receive()
    assert len(messages) == 3  # S3's test event, the good file, the bad message

    result = invoke(folder.lambda_event(messages))

    assert result == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    assert CustomerRecord.get("C1").legal_name == "Acme"
    assert folder.report_keys() == ["reports/customers/good.csv.json"]


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        '"incoming/customers/x.csv"',
        json.dumps({"Records": []}),
        json.dumps({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}}}]}),
        json.dumps({"Type": "Notification", "Message": "{}"}),  # an SNS envelope, not S3's own message
    ],
)
def test_a_message_that_is_not_an_s3_notification_fails_alone(folder: DropFolder, body: str) -> None:
    folder.drop("incoming/customers/good.csv", CUSTOMERS_CSV)
    bad_id = folder.sqs.send_message(QueueUrl=folder.queue_url, MessageBody=body)["MessageId"]

    result = invoke(folder.lambda_event(folder.receive()))

    assert result == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    assert folder.report_keys() == ["reports/customers/good.csv.json"]


def test_a_file_that_cannot_be_read_fails_its_message_so_the_queue_retries_it(folder: DropFolder) -> None:
    folder.drop("incoming/customers/gone.csv", CUSTOMERS_CSV)
    folder.drop("incoming/customers/kept.csv", CUSTOMERS_CSV)
    folder.s3.delete_object(Bucket=folder.bucket, Key="incoming/customers/gone.csv")
    messages = folder.receive()
    (gone,) = [m for m in messages if "gone.csv" in m["Body"]]

    result = invoke(folder.lambda_event(messages))

    assert result == {"batchItemFailures": [{"itemIdentifier": gone["MessageId"]}]}
    assert folder.report_keys() == ["reports/customers/kept.csv.json"]


def test_a_file_in_the_wrong_place_or_format_gets_a_failure_report_and_is_not_retried(folder: DropFolder) -> None:
    folder.drop("incoming/invoices/broken.csv", b"invoice_id\nI1\n")
    folder.drop("incoming/ledger.csv", b"x,y\n1,2\n")

    assert invoke(folder.lambda_event(folder.receive())) == {"batchItemFailures": []}

    assert "required for invoices" in folder.report("reports/invoices/broken.csv.json")["error"]
    misplaced = folder.report("reports/ledger.csv.json")
    assert misplaced["status"] == "failed"
    assert "incoming/<customers|invoices|payments>/<name>.csv" in misplaced["error"]


def test_a_function_missing_a_setting_stops_with_its_name_before_taking_any_message(
    folder: DropFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder.drop("incoming/customers/good.csv", CUSTOMERS_CSV)
    monkeypatch.delenv("ARCOLLECT_TABLE_PREFIX")
    runtime_settings.cache_clear()
    ingest.drop_folder.cache_clear()

    with pytest.raises(SettingsError, match="ARCOLLECT_TABLE_PREFIX"):
        invoke(folder.lambda_event(folder.receive()))
    assert folder.report_keys() == []
