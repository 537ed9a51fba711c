"""Staff routes (`/staff/...`): the AR team's powers of the command line over HTTP, IAM-authorised in AWS."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()
