"""Every error the API answers, in the one envelope INTERFACES.md promises:
`{"error": {"code": "...", "message": "...", "details": [{"message": ...}, ...]}}`.

Clients and the portal read `code` and branch on it, so no path may answer with Powertools' own bodies
(`{"statusCode": 404, "message": "Not found"}`, `{"detail": [...]}`) or, worse, a stack trace. Exceptions
are turned into statuses here and only here; domain code raises `shared.errors.DomainError` and never
thinks about HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFound
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from shared.errors import (
    ColumnMapError,
    ConflictError,
    DomainError,
    FileFormatError,
    NotFoundError,
    NotImplementedYet,
    TooManyRequests,
    Unauthorized,
    ValidationError,
)

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from shared.api.resolver import ContractResolver

Detail = dict[str, Any]

DOMAIN_STATUS: Mapping[type[DomainError], HTTPStatus] = {
    ValidationError: HTTPStatus.UNPROCESSABLE_ENTITY,
    NotFoundError: HTTPStatus.NOT_FOUND,
    ConflictError: HTTPStatus.CONFLICT,
    FileFormatError: HTTPStatus.BAD_REQUEST,
    ColumnMapError: HTTPStatus.BAD_REQUEST,
    Unauthorized: HTTPStatus.UNAUTHORIZED,
    TooManyRequests: HTTPStatus.TOO_MANY_REQUESTS,
    NotImplementedYet: HTTPStatus.NOT_IMPLEMENTED,
}

# The envelope as a JSON Schema, for the OpenAPI document.
ERROR_SCHEMA: Mapping[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "Stable and machine-readable, e.g. validation_error"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["message"],
                        "properties": {
                            "message": {"type": "string"},
                            "location": {"type": "string", "description": "body, query, path or header"},
                            "field": {"type": "string", "description": "dotted path within the location"},
                            "type": {"type": "string", "description": "what is wrong, e.g. missing"},
                        },
                    },
                },
            },
        }
    },
}

INTERNAL_ERROR_MESSAGE = "Something went wrong on our side; it has been logged."


def error_response(
    status: int,
    code: str,
    message: str,
    details: Iterable[Detail] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message, "details": list(details)}},
        headers=dict(headers or {}),
    )


# Spelled out rather than derived from reason phrases, which change between Python versions (413).
HTTP_ERROR_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    501: "not_implemented",
    503: "service_unavailable",
}


def status_code_name(status: int) -> str:
    """The code of an error that has no more specific one."""
    return HTTP_ERROR_CODES.get(int(status), "error")


def domain_status(error: DomainError) -> HTTPStatus:
    for cls in type(error).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return HTTPStatus.BAD_REQUEST


def request_error_details(errors: Sequence[Mapping[str, Any]]) -> list[Detail]:
    """Where and why, never the rejected value itself: it may be a TIN or a token."""
    details = []
    for error in errors:
        location, *field = [str(part) for part in error.get("loc", ())] or ["request"]
        detail: Detail = {
            "location": location,
            "field": ".".join(field) or None,
            "type": error.get("type"),
            "message": error.get("msg"),
        }
        details.append({key: value for key, value in detail.items() if value is not None})
    return details


def install_error_handlers(app: ContractResolver, logger: Logger) -> None:
    """Register the one handler per exception family on `app`; Powertools picks the most specific class."""

    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response:
        details = [{"message": detail} for detail in error.details]
        headers = {}
        if isinstance(error, TooManyRequests):
            headers["Retry-After"] = str(error.retry_after)
        if isinstance(error, Unauthorized):
            headers["WWW-Authenticate"] = 'Bearer realm="arcollect-portal"'
        return error_response(domain_status(error), error.code, error.message, details, headers)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response:
        errors = list(error.errors())
        for e in errors:
            if e.get("type") == "json_invalid":  # Powertools reports the decoder's reason and offset this way
                _, *position = e.get("loc", ())
                reason = (e.get("ctx") or {}).get("error") or "not JSON"
                where = f" at character {position[0]}" if position else ""
                return error_response(
                    HTTPStatus.BAD_REQUEST,
                    "malformed_json",
                    "The request body is not valid JSON.",
                    [{"location": "body", "type": "json_invalid", "message": f"{reason}{where}"}],
                )
        return error_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "validation_error",
            "The request does not match what this route accepts.",
            request_error_details(errors),
        )

    @app.exception_handler(json.JSONDecodeError)
    def malformed_json(error: json.JSONDecodeError) -> Response:
        # Routes that read `current_event.json_body` themselves, rather than declaring a body model.
        details = [{"location": "body", "type": "json_invalid", "message": f"{error.msg} at character {error.pos}"}]
        return error_response(HTTPStatus.BAD_REQUEST, "malformed_json", "The request body is not valid JSON.", details)

    @app.exception_handler(UnicodeDecodeError)
    def not_text(error: UnicodeDecodeError) -> Response:
        # A binary body sent as JSON reaches the function base64-encoded; decoding it is where it fails.
        return error_response(HTTPStatus.BAD_REQUEST, "malformed_body", "The request body is not UTF-8 text.")

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_media_type(error: RequestUnsupportedContentType) -> Response:
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "This route accepts JSON (application/json).",
        )

    @app.not_found
    def no_route(error: RouteNotFound) -> Response:
        method = app.current_event.http_method.upper()
        allowed = app.allowed_methods(app.current_event.path)
        if allowed and method not in allowed:
            return error_response(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method_not_allowed",
                f"This path accepts {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        # A matched route raising Powertools' NotFoundError("...") means "no such resource", with its reason.
        message = error.msg if allowed and isinstance(error.msg, str) and error.msg else "Nothing is served here."
        return error_response(HTTPStatus.NOT_FOUND, "not_found", message)

    @app.exception_handler(ServiceError)
    def service_error(error: ServiceError) -> Response:
        message = error.msg if isinstance(error.msg, str) else status_code_name(error.status_code).replace("_", " ")
        return error_response(error.status_code, status_code_name(error.status_code), message)

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response:
        logger.exception(
            "unhandled error", extra={"method": app.current_event.http_method, "path": app.current_event.path}
        )
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", INTERNAL_ERROR_MESSAGE)
