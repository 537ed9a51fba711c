"""The REST API (portal, staff, public routes) behind API Gateway: routing only, no business rules.

Errors, 404/405, HEAD, the body limit and the OpenAPI document come from `shared.api`, so every route
answers like INTERFACES.md without saying so itself.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api import onboarding_routes, portal_routes, staff_routes
from shared.api.resolver import MAX_BODY_BYTES, ContractResolver

logger = Logger(service="api")
app = ContractResolver(
    logger=logger,
    title="arcollect API",
    description=(
        "Credit-and-collections automation: the customer portal, staff and public routes. Every error is "
        f"one envelope (code, message, details); request bodies are limited to {MAX_BODY_BYTES // 1024} KiB."
    ),
)


@app.get("/health", summary="Is the API up")
def health() -> dict[str, str]:
    return {"status": "ok"}


app.include_router(portal_routes.router)
app.include_router(staff_routes.router)
app.include_router(onboarding_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
