"""The hourly onboarding sweep (EventBridge Scheduler): invitations and their reminders that have come due,
and validations to try again after a DNS or registry outage. One customer's failure does not stop the rest;
it stays due and the next hour tries it again.

`{"invite": "<customer id>"}` (from `arcollect onboarding invite`) sends that customer's invitation now and
answers what was sent, or the reason it could not be."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.errors import DomainError
from shared.onboarding.service import onboarding_services
from shared.onboarding.workflow import invite, masked_email, sweep

logger = Logger(service="onboarding_sweep")
# The sweep stops with this much of the function's time left; what it did not reach waits for the next hour.
RESERVE_MS = 60_000


def invite_now(customer_id: str) -> dict[str, Any]:
    services = onboarding_services()
    try:
        sent = invite(customer_id, services.clock(), services.onboarding_mailer, services.link_for)
    except DomainError as exc:
        return {"error": exc.message, "code": exc.code}
    next_at = sent.next_at.isoformat() if sent.next_at else None
    return {"invited": {"customer_id": customer_id, "address": masked_email(sent.address), "next_reminder_at": next_at}}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("invite"):
        return invite_now(str(event["invite"]))
    services = onboarding_services()
    report = sweep(
        services.clock(),
        services.onboarding_mailer,
        services.link_for,
        services.executions,
        services.click_wait_s,
        keep_going=lambda: context.get_remaining_time_in_millis() > RESERVE_MS,
    )
    counts = Counter(item.outcome for item in report.items)
    if report.failures:
        logger.warning("onboarding sweep: customers left due for the next hour", extra={"failures": report.failures})
    logger.info("onboarding sweep", extra={"outcomes": dict(counts), "errors": report.errors})
    return {"outcomes": dict(counts), "errors": report.errors, "unfinished": report.unfinished}
