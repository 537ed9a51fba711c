"""The S3 drop folder under `arcollect local`: the local system polls the ingest queue as Lambda's event
source mapping would (batchItemFailures honoured, failures retried, then dead-lettered), and a CSV dropped
into the bucket is imported with its report written beside it."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from arcollect.local.deployment import LocalDeployment
from arcollect.local.emulator import Emulator
from arcollect.local.queue_poller import QueuePoller, failed_message_ids, sqs_event
from arcollect.local.state import LocalState, load_local_state
from arcollect.local.system import LocalOptions, run_local_system
from shared.settings import runtime_settings

T = TypeVar("T")
ARN = "arn:aws:sqs:us-east-1:123456789012:ingest"


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while (result := check()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f} s")
        time.sleep(0.2)
    return result


# --- Lambda's ReportBatchItemFailures rules ------------------------------------------------------------


def test_a_reply_without_failures_deletes_the_whole_batch() -> None:
    assert failed_message_ids({"batchItemFailures": []}, False, ["a", "b"]) == set()
    assert failed_message_ids(None, False, ["a", "b"]) == set()


def test_the_messages_named_in_batch_item_failures_are_kept() -> None:
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, False, ["a", "b"]) == {"b"}


def test_a_failed_invocation_or_an_unknown_identifier_keeps_the_whole_batch() -> None:
    assert failed_message_ids({"errorMessage": "boom"}, True, ["a", "b"]) == {"a", "b"}
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, False, ["a", "b"]) == {"a", "b"}


def test_the_event_carries_each_message_as_lambda_delivers_it() -> None:
    message = {"MessageId": "m1", "ReceiptHandle": "r1", "Body": "{}", "Attributes": {"ApproximateReceiveCount": "1"}}
    (record,) = sqs_event([message], ARN, "us-east-1")["Records"]
    assert record == {
        "messageId": "m1",
        "receiptHandle": "r1",
        "body": "{}",
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "us-east-1",
    }


# --- the poller against the emulator's queues ----------------------------------------------------------


def _queues(emulator: Emulator) -> tuple[Any, str, str, str]:
    sqs = emulator.client("sqs")
    names = LocalDeployment().names
    queue = sqs.get_queue_url(QueueName=names.ledger_ingest_queue)["QueueUrl"]
    dead_letters = sqs.get_queue_url(QueueName=names.ledger_ingest_dead_letter_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.purge_queue(QueueUrl=queue)  # the test event S3 sends when the notification is configured
    return sqs, queue, dead_letters, arn


def test_a_message_the_function_keeps_failing_lands_in_the_dead_letter_queue_after_three_attempts(
    emulator: Emulator,
) -> None:
    sqs, queue, dead_letters, arn = _queues(emulator)
    sqs.send_message(QueueUrl=queue, MessageBody="poison")
    attempts: list[str] = []

    def invoke(event: dict[str, Any]) -> tuple[Any, bool]:
        attempts.extend(record["attributes"]["ApproximateReceiveCount"] for record in event["Records"])
        return {"errorMessage": "cannot import"}, True

    poller = QueuePoller(sqs, queue, arn, "us-east-1", invoke, wait_seconds=0, retry_after_seconds=0)
    received = [poller.poll_once() for _ in range(4)]

    assert received == [1, 1, 1, 0] and attempts == ["1", "2", "3"]
    moved = sqs.receive_message(QueueUrl=dead_letters)["Messages"]
    assert [m["Body"] for m in moved] == ["poison"]


def test_only_the_messages_the_function_reports_as_failed_come_back(emulator: Emulator) -> None:
    sqs, queue, _, arn = _queues(emulator)
    for body in ("good", "bad"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)

    def invoke(event: dict[str, Any]) -> tuple[Any, bool]:
        failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"]
        return {"batchItemFailures": failures}, False

    poller = QueuePoller(sqs, queue, arn, "us-east-1", invoke, batch_size=10, wait_seconds=0, retry_after_seconds=0)
    assert poller.poll_once() == 2

    left = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in left] == ["bad"]


def test_a_stopped_poller_polls_no_more(emulator: Emulator) -> None:
    sqs, queue, _, arn = _queues(emulator)
    calls: list[dict[str, Any]] = []
    poller = QueuePoller(sqs, queue, arn, "us-east-1", lambda e: (calls.append(e), (None, False))[1], wait_seconds=0)
    poller.start()
    poller.stop()
    sqs.send_message(QueueUrl=queue, MessageBody="after stop")

    assert calls == []
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=queue)["Messages"]] == ["after stop"]


# --- the whole local system ----------------------------------------------------------------------------


class _Quiet:
    """LocalEvents that print nothing."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


@pytest.fixture
def local_system(tmp_path: Path) -> Iterator[LocalState]:
    saved_environment = dict(os.environ)
    stop = threading.Event()
    options = LocalOptions(port=0, state_dir=tmp_path)
    thread = threading.Thread(target=run_local_system, args=(options, _Quiet(), stop), daemon=True)
    thread.start()
    try:
        yield wait_for(lambda: load_local_state(tmp_path), "local.json")
    finally:
        stop.set()
        thread.join(60)
        os.environ.clear()
        os.environ.update(saved_environment)
        runtime_settings.cache_clear()


def test_a_csv_dropped_into_the_local_bucket_is_imported_and_reported(local_system: LocalState) -> None:
    import boto3

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=local_system.endpoint_url,
            region_name=local_system.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    s3 = client("s3")
    csv = "customer_id,legal_name,country\nDROP-1,Dropped Holdings Inc,US\nDROP-2,Second Drop LLC,US\n"
    s3.put_object(Bucket=local_system.ingest_bucket, Key="incoming/customers/x.csv", Body=csv.encode())

    def report() -> dict[str, Any] | None:
        try:
            body = s3.get_object(Bucket=local_system.ingest_bucket, Key="reports/customers/x.csv.json")["Body"]
        except s3.exceptions.NoSuchKey:
            return None
        loaded: dict[str, Any] = json.loads(body.read())
        return loaded

    written = wait_for(report, "report object")
    assert (written["rows"], written["created"], written["rejected"]) == (2, 2, 0)
    customers = client("dynamodb").scan(TableName=f"{local_system.table_prefix}customers")["Items"]
    assert sorted(item["customer_id"]["S"] for item in customers) == ["DROP-1", "DROP-2"]
