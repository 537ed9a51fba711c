"""Retry reminder sends that failed (or were left unsent): each message alone; the last failure becomes a task."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.dunning.service import services_from_environment as services

logger = Logger(service="dunning_send_retry")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def retry_message(record: SQSRecord) -> None:
    send_key = str(json.loads(record.body)["send_key"])
    receive_count = int(record.attributes.approximate_receive_count or 1)
    outcome = services().retry(send_key, receive_count)
    logger.info("send retried", extra={"outcome": outcome, "attempt": receive_count})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    services()
    return process_partial_response(event=event, record_handler=retry_message, processor=processor, context=context)
