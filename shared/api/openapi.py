"""What the OpenAPI document says beyond Powertools' defaults: the error envelope on every status a route can
answer with it, how each route family authenticates, and binary (PDF) bodies. Routes declare these so a client
generated from `/openapi.json` (or schemathesis) knows every answer it can get."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

SESSION_SCHEME = "session"
SIGV4_SCHEME = "sigv4"
SESSION: list[dict[str, list[str]]] = [{SESSION_SCHEME: []}]
SIGV4: list[dict[str, list[str]]] = [{SIGV4_SCHEME: []}]

_DESCRIPTIONS = {
    400: "Malformed request (the body is not JSON)",
    401: "No valid session token: missing, expired, tampered, revoked or for another purpose",
    403: "Not allowed from here",
    404: "No such resource for this customer",
    409: "Conflicts with the resource's state",
    413: "The body is too large",
    415: "The body is not JSON",
    422: "The request does not match what the route accepts",
    429: "Too many requests: see Retry-After",
    501: "Not available yet",
}


class ErrorDetail(BaseModel):
    message: str
    location: str | None = Field(default=None, description="body, query, path or header")
    field: str | None = Field(default=None, description="dotted path within the location")
    type: str | None = Field(default=None, description="what is wrong, e.g. missing")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable and machine-readable, e.g. validation_error")
    message: str
    details: list[ErrorDetail]


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def errors(*statuses: int) -> dict[int, Any]:
    """The `responses` entries of the error envelope for `statuses` (400, 413 and 415 on every route with a body)."""
    return {
        status: {"description": _DESCRIPTIONS[status], "content": {"application/json": {"model": ErrorEnvelope}}}
        for status in statuses
    }


def ok(model: Any, status: int = 200, description: str = "OK") -> dict[int, Any]:
    """The success entry of `responses`: Powertools documents the return model only when no `responses` are given."""
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}


def binary(media_type: str, description: str) -> dict[int, Any]:
    return {
        200: {"description": description, "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}
    }


def security_schemes() -> dict[str, Any]:
    # Imported here: Powertools' OpenAPI models cost ~0.1 s, paid only when the document is asked for.
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    return {
        SESSION_SCHEME: HTTPBearer(
            description="The session token from POST /portal/session (exchange the link from an email for it)",
            bearerFormat="JWT",
        ),
        SIGV4_SCHEME: APIKey.model_validate(
            {
                "name": "Authorization",
                "in": APIKeyIn.header,
                "description": "Staff: requests signed with AWS Signature Version 4 by an IAM principal allowed "
                "execute-api:Invoke on /staff/* (locally: callers on this machine only)",
            }
        ),
    }
