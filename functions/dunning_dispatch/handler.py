"""One batch of a dunning run: plan each customer, claim each message exactly once, send or make the task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.dunning.events import DispatchEvent
from shared.dunning.run import RunRequest
from shared.dunning.service import services_from_environment as services

logger = Logger(service="dunning_dispatch")


@logger.inject_lambda_context
@event_parser(model=DispatchEvent)
def handler(event: DispatchEvent, context: LambdaContext) -> dict[str, Any]:
    request = RunRequest.from_json(event.run)
    counts = services().dispatch(request, event.batch)
    logger.info("batch done", extra={"run_id": request.run_id, "batch_id": event.batch.get("batch_id")})
    return {"batch_id": event.batch.get("batch_id"), "counts": counts.to_json()}
