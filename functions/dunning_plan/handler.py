"""Plan a dunning run: read the due shards of the next-action index and write the batch manifest."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.dunning.events import PlanEvent
from shared.dunning.run import run_request
from shared.dunning.service import services_from_environment as services

logger = Logger(service="dunning_plan")


@logger.inject_lambda_context
@event_parser(model=PlanEvent)
def handler(event: PlanEvent, context: LambdaContext) -> dict[str, Any]:
    request = run_request(event.input, event.run_id, services().clock())
    result = services().plan(request)
    logger.info("run planned", extra={"run_id": request.run_id, "due": result.due_invoices, "batches": result.batches})
    return result.to_json()
