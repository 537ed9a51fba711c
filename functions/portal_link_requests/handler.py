"""Email the sign-in links customers asked for by address (`POST /portal/links`, queued): each message alone; a
failed send comes back for another try, and after three it stays in the dead-letter queue."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.portal.access import send_requested_link
from shared.portal.service import portal_services

logger = Logger(service="portal_link_requests")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def send_link(record: SQSRecord) -> None:
    request = json.loads(record.body)
    services = portal_services()
    email = str(request["email"])
    sent = send_requested_link(email, services.clock(), services.signer, services.portal_url, services.mailer)
    logger.info("link request handled", extra={"sent": sent})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    portal_services()
    return process_partial_response(event=event, record_handler=send_link, processor=processor, context=context)
