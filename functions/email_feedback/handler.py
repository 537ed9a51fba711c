"""SES bounce and complaint notifications (SNS → SQS): mark the address, re-open onboarding, fall back to the
next channel, and keep the address on arcollect's suppression list. Each message alone (partial batch failures)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.dunning.feedback import FeedbackHandler, parse_notification
from shared.dunning.service import services_from_environment
from shared.onboarding.service import suppress

logger = Logger(service="email_feedback")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def feedback_handler() -> FeedbackHandler:
    services = services_from_environment()
    return FeedbackHandler(services.store, services.deliverer, services.clock, suppress=suppress)


def feedback_message(record: SQSRecord) -> None:
    envelope = json.loads(record.body)
    notification = json.loads(envelope["Message"]) if "Message" in envelope else envelope
    feedback = parse_notification(notification)
    if feedback is None:
        logger.info("not a bounce or a complaint; ignored")
        return
    outcome = feedback_handler().handle(feedback)
    logger.info("feedback handled", extra={"kind": feedback.kind, "outcome": outcome})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    feedback_handler()
    return process_partial_response(event=event, record_handler=feedback_message, processor=processor, context=context)
