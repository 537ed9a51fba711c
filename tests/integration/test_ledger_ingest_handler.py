"""The S3 drop folder: a file put under incoming/ is imported by the real handler and its report is
written back beside it; the original stays."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from arcollect.local.lambda_context import LocalLambdaContext
from functions.ledger_ingest import handler as ingest
from shared.data.tables import CustomerRecord
from shared.settings import RuntimeSettings, runtime_settings


@pytest.fixture
def handler_env(aws: None, settings: RuntimeSettings, monkeypatch: pytest.MonkeyPatch):
    for name, value in settings.as_environment().items():
        monkeypatch.setenv(name, value)
    runtime_settings.cache_clear()
    ingest.drop_folder.cache_clear()
    yield boto3.client("s3", region_name=settings.region)
    runtime_settings.cache_clear()
    ingest.drop_folder.cache_clear()


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    return {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]}


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return ingest.handler(
        event, LocalLambdaContext("ledger_ingest", "arn:aws:lambda:us-east-1:123456789012:function:ledger_ingest")
    )


def test_a_dropped_file_is_imported_and_reported(handler_env, settings: RuntimeSettings) -> None:
    s3, bucket = handler_env, settings.ingest_bucket
    key = "incoming/customers/2026-11-22 export.csv"
    s3.put_object(
        Bucket=bucket, Key=key, Body=b"customer_id,legal_name,ap_email\nC1,Acme,ap@acme-corp.com\nC2,,\n,x,\n"
    )

    result = invoke(s3_event(bucket, key.replace(" ", "+")))  # S3 events URL-encode keys

    assert result == {"files": [{"key": key, "status": "done_with_rejections"}]}
    report = json.loads(s3.get_object(Bucket=bucket, Key="reports/customers/2026-11-22 export.csv.json")["Body"].read())
    assert (report["created"], report["rejected"]) == (2, 1)
    assert report["problems"][-1] == {
        "line": 4,
        "severity": "error",
        "reason": "customer_id is required",
        "record_id": None,
    }
    assert CustomerRecord.get("C1").legal_name == "Acme"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read().startswith(b"customer_id")  # original kept


def test_a_file_in_the_wrong_place_or_format_gets_a_failure_report(handler_env, settings: RuntimeSettings) -> None:
    s3, bucket = handler_env, settings.ingest_bucket
    s3.put_object(Bucket=bucket, Key="incoming/invoices/broken.csv", Body=b"invoice_id\nI1\n")
    s3.put_object(Bucket=bucket, Key="incoming/ledger.csv", Body=b"x,y\n1,2\n")
    sqs_wrapped = {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(s3_event(bucket, "incoming/ledger.csv"))}]}

    assert invoke(s3_event(bucket, "incoming/invoices/broken.csv"))["files"][0]["status"] == "failed"
    assert invoke(sqs_wrapped)["files"][0]["status"] == "failed"

    broken = json.loads(s3.get_object(Bucket=bucket, Key="reports/invoices/broken.csv.json")["Body"].read())
    assert "required for invoices" in broken["error"]
    misplaced = json.loads(s3.get_object(Bucket=bucket, Key="reports/ledger.csv.json")["Body"].read())
    assert "incoming/<customers|invoices|payments>/<name>.csv" in misplaced["error"]
