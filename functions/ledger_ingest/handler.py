"""Imports ledger files dropped in the ingest bucket (S3 notification, directly or through SQS)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.ledger.drop_folder import DropFolder, keys_from_s3_event
from shared.ledger.importer import build_importer
from shared.settings import runtime_settings

logger = Logger(service="ledger_ingest")


@cache
def drop_folder() -> DropFolder:
    settings = runtime_settings()
    s3 = boto3.client("s3", region_name=settings.region, endpoint_url=settings.endpoint_url)
    return DropFolder(s3=s3, importer=build_importer(settings))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    results = []
    for bucket, key in keys_from_s3_event(event):
        report = drop_folder().ingest(bucket, key)
        logger.info(
            "ledger file ingested",
            extra={"key": key, "status": report["status"], "rejected": report.get("rejected", 0)},
        )
        results.append({"key": key, "status": report["status"]})
    return {"files": results}
