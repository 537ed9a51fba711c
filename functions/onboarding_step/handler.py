"""One step of the onboarding workflow (statemachines/onboarding.asl.json): the event names the step, the
customer and the revision the execution was started for.

A newer revision is an ordinary outcome, answered as `{"outcome": "superseded"}` (for the step the execution
waits on, sent back with its task token): a customer who saves twice must not count as a Lambda error.
`OnboardingRetryLater` (DNS or a registry down) leaves the function by name for the ASL's Retry — an outage
that shows on the errors alarm is one worth seeing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from shared.onboarding import workflow
from shared.onboarding.service import onboarding_services

logger = Logger(service="onboarding_step")


class Step(BaseModel):
    customer_id: str = Field(min_length=1, max_length=1024)
    revision: int = Field(ge=0)


class Validate(Step):
    step: Literal["validate"]
    click_wait_s: int = Field(default=0, ge=0)


class SendVerification(Step):
    step: Literal["send_verification"]
    task_token: str = Field(min_length=1, repr=False)
    reminder: bool = False


class Closing(Step):
    step: Literal["activate", "unconfirmed", "pending", "failed"]


StepEvent = Annotated[Validate | SendVerification | Closing, Field(discriminator="step")]


CLOSINGS = {
    "activate": workflow.activate,
    "unconfirmed": workflow.unconfirmed,
    "pending": workflow.pending,
    "failed": workflow.failed,
}


def run(event: Validate | SendVerification | Closing) -> dict[str, Any]:
    services = onboarding_services()
    now = services.clock()
    if isinstance(event, Validate):
        return workflow.validate(event.customer_id, event.revision, now, services.checks, event.click_wait_s).as_json()
    if isinstance(event, SendVerification):
        sent = workflow.send_verification(
            event.customer_id,
            event.revision,
            event.task_token,
            event.reminder,
            now,
            services.onboarding_mailer,
            services.portal_url,
        )
        if not sent:  # confirmed already: nothing to wait for
            services.executions.succeed(event.task_token, {"verified": True})
        return {"sent": sent}
    CLOSINGS[event.step](event.customer_id, event.revision, now)
    return {"step": event.step}


@logger.inject_lambda_context
@event_parser(model=StepEvent)
def handler(event: Validate | SendVerification | Closing, context: LambdaContext) -> dict[str, Any]:
    try:
        result = run(event)
    except workflow.OnboardingSuperseded:
        result = {"outcome": "superseded"}
        if isinstance(event, SendVerification):
            onboarding_services().executions.succeed(event.task_token, {"superseded": True})
    logger.info("onboarding step", extra={"step": event.step, "outcome": result.get("outcome")})
    return result
