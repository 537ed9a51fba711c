"""The portal's API Gateway TOKEN authorizer: a live session token becomes an IAM policy allowing the customer
routes, with the customer id in the context the API function reads; anything else is API Gateway's 401.

The policy allows every customer route of the stage, not just the one called, so a cached answer would serve the
next call too; the CDK construct still disables caching so a signed-out or revoked session stops at once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.api.route_families import CUSTOMER_PREFIX
from shared.errors import Unauthorized
from shared.portal.access import authorize
from shared.portal.service import portal_services

logger = Logger(service="portal-authorizer")
BEARER = "bearer "
# API Gateway turns exactly this error message into a 401 (any other is a 500).
UNAUTHORIZED = "Unauthorized"


def handler(raw_event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Parsed here rather than with @event_source, whose wrapper logs every refusal as an error with a traceback.
    event = APIGatewayAuthorizerTokenEvent(raw_event)
    header = event.authorization_token or ""
    token = header[len(BEARER) :].strip() if header[: len(BEARER)].lower() == BEARER else ""
    services = portal_services()
    try:
        principal = authorize(token, services.signer, services.clock())
    except Unauthorized as refused:
        logger.info("session refused", extra={"reason": refused.message})
        raise Exception(UNAUTHORIZED) from None
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=principal.customer_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"customer_id": principal.customer_id, "session_id": principal.session_id},
    )
    policy.allow_route("*", f"{CUSTOMER_PREFIX.strip('/')}/*")
    return policy.asdict()
