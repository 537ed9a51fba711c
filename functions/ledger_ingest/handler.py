"""Imports ledger files dropped in the ingest bucket, from the S3 notifications the ingest queue delivers.

Each message succeeds or fails alone (Powertools' batch utility answers `batchItemFailures`, as the event
source mapping expects): a malformed message or a failed import is retried and dead-lettered by itself,
never together with the files that went well.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.ledger.drop_folder import DropFolder, files_in_notification
from shared.ledger.importer import build_importer
from shared.settings import runtime_settings

logger = Logger(service="ledger_ingest")
# A batch whose every message failed is answered like any other, not raised: the failures are the answer.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def drop_folder() -> DropFolder:
    settings = runtime_settings()
    s3 = boto3.client("s3", region_name=settings.region, endpoint_url=settings.endpoint_url)
    return DropFolder(s3=s3, importer=build_importer(settings))


def ingest_message(record: SQSRecord) -> None:
    try:
        for bucket, key in files_in_notification(record.body):
            report = drop_folder().ingest(bucket, key)
            logger.info(
                "ledger file ingested",
                extra={"key": key, "status": report["status"], "rejected": report.get("rejected", 0)},
            )
    except Exception:
        logger.exception("message failed; the queue retries it", extra={"message_id": record.message_id})
        raise


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # Before any message is taken: a missing ARCOLLECT_* variable fails the invocation with its name.
    drop_folder()
    return process_partial_response(event=event, record_handler=ingest_message, processor=processor, context=context)
