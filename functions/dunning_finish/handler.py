"""Close a dunning run: add the batches up and hand every claim left unsent to the retry queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.dunning.events import FinishEvent
from shared.dunning.run import RunRequest
from shared.dunning.service import services_from_environment as services

logger = Logger(service="dunning_finish")


@logger.inject_lambda_context
@event_parser(model=FinishEvent)
def handler(event: FinishEvent, context: LambdaContext) -> dict[str, Any]:
    result = services().finish(RunRequest.from_json(event.run), event.dispatch_error)
    logger.info("run finished", extra={"run_id": result["run_id"], "status": result["status"]})
    return result
