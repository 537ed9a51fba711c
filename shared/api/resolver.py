"""The Powertools REST resolver, made to answer like the contract in INTERFACES.md on every path.

Powertools routes by exact method and answers what it does not route with its own bodies. On top of it:
- a body over `MAX_BODY_BYTES` is refused with 413 before anything parses it, and one not declared JSON with 415;
- HEAD is answered by the GET route, without the body;
- a path that exists under other methods answers 405 with `Allow`, an unknown one 404;
- every error, expected or not, is the envelope of `shared.api.errors`; nothing leaks a stack trace;
- `/openapi.json` and `/docs` (Swagger UI, its assets inlined by Powertools: no CDN) describe the routes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from shared.api.errors import ERROR_SCHEMA, INTERNAL_ERROR_MESSAGE, install_error_handlers

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI
    from aws_lambda_powertools.utilities.typing import LambdaContext

# The largest JSON document a portal or staff call needs is a few KiB; 256 KiB leaves room for long notes
# and is far below what API Gateway (10 MB) and Lambda (6 MB) would carry. Ledger files go through S3.
MAX_BODY_BYTES = 256 * 1024

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"


def body_size(event: Mapping[str, Any]) -> int:
    """Bytes of the request body as the client sent it, without decoding it."""
    body = event.get("body")
    if not body:
        return 0
    text = str(body)
    if event.get("isBase64Encoded"):
        return len(text) * 3 // 4 - text[-2:].count("=")
    return len(text.encode("utf-8"))


def _api_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("arcollect")
    except PackageNotFoundError:  # the Lambda bundle carries the code, not the distribution's metadata
        return "unreleased"


def _envelope_result(status: HTTPStatus, code: str, message: str) -> dict[str, Any]:
    """A finished proxy result, for answers given before (or instead of) Powertools' routing."""
    return {
        "statusCode": int(status),
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
        "body": json.dumps({"error": {"code": code, "message": message, "details": []}}, separators=(",", ":")),
        "isBase64Encoded": False,
    }


class ContractResolver(APIGatewayRestResolver):
    def __init__(
        self,
        *,
        logger: Logger,
        title: str,
        description: str,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        # Never debug mode, whatever POWERTOOLS_DEV says: it prints whole events (bodies with TINs, tokens).
        super().__init__(enable_validation=True, debug=False)
        self.max_body_bytes = max_body_bytes
        self._logger = logger
        self._title = title
        self._description = description
        self._docs_enabled = False
        self._docs_lock = threading.Lock()
        install_error_handlers(self, logger)
        self.get(OPENAPI_PATH, include_in_schema=False)(self._openapi_document)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        if body_size(event) > self.max_body_bytes:
            return _envelope_result(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "payload_too_large",
                f"The request body is larger than {self.max_body_bytes} bytes.",
            )
        method = str(event.get("httpMethod", "")).upper()
        if body_size(event) and not _is_json(event) and method in self.allowed_methods(str(event.get("path", ""))):
            # Before Powertools parses it: its form and multipart parsers answer a 422 or fail (no boundary).
            return _envelope_result(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "This route accepts JSON (application/json).",
            )
        if str(event.get("path", "")).rstrip("/") == DOCS_PATH:
            self._enable_docs()
        is_head = method == "HEAD"
        if is_head:
            event = _as_get(event)
        try:
            result = super().resolve(event, context)
        except Exception:
            # Only what Powertools itself raises gets here (a route's exceptions are mapped): a malformed event.
            self._logger.exception("the resolver failed", extra={"path": event.get("path")})
            return _envelope_result(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", INTERNAL_ERROR_MESSAGE)
        if is_head:
            result = {**result, "body": "", "isBase64Encoded": False}
        return result

    def allowed_methods(self, path: str) -> list[str]:
        """The methods some route answers at `path`, HEAD wherever GET is, in the order an `Allow` lists them.

        Pin-sensitive: reads the resolver's route lists (`_static_routes`, `_dynamic_routes`, each route's
        `method` and compiled `rule`), private to aws-lambda-powertools, pinned in pyproject.toml. They are
        read rather than mirrored so `Allow` always agrees with how Powertools routes.
        """
        routes = [*self._static_routes, *self._dynamic_routes]
        methods = {route.method.upper() for route in routes if route.rule.match(path)}
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)

    def get_openapi_schema(self, **settings: Any) -> OpenAPI:
        """Powertools' document, with its 422 body (`{"detail": [...]}`) replaced by the envelope actually
        answered; both `/openapi.json` and `/docs` are built from this."""
        from aws_lambda_powertools.event_handler.openapi.models import Schema

        document = super().get_openapi_schema(**settings)
        schemas = document.components.schemas if document.components else None
        if schemas and "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = Schema.model_validate(ERROR_SCHEMA)
            # Only Powertools' own error bodies used these, and this API never answers them.
            schemas.pop("ValidationError", None)
            schemas.pop("ResponseValidationError", None)
        return document

    def _openapi_document(self) -> Response[str]:
        from aws_lambda_powertools.event_handler.openapi.models import Server

        from shared.api.openapi import security_schemes

        document = self.get_openapi_json_schema(
            title=self._title,
            version=_api_version(),
            description=self._description,
            servers=[Server(url=self._get_base_path() or "/")],
            security_schemes=security_schemes(),
        )
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document)

    def _enable_docs(self) -> None:
        """Register Swagger UI on the first request for it, not at import: enable_swagger imports
        Powertools' OpenAPI models (~0.1 s), which every cold start would otherwise pay for a page few open."""
        with self._docs_lock:
            if not self._docs_enabled:
                from shared.api.openapi import security_schemes

                self.enable_swagger(
                    path=DOCS_PATH,
                    title=self._title,
                    version=_api_version(),
                    description=self._description,
                    security_schemes=security_schemes(),
                )
                self._docs_enabled = True


def _is_json(event: Mapping[str, Any]) -> bool:
    """Whether a request's body is declared JSON (`application/json`, `*+json`) or not declared at all."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return not media_type or media_type == "application/json" or media_type.endswith("+json")


def _as_get(event: Mapping[str, Any]) -> dict[str, Any]:
    request_context = dict(event.get("requestContext") or {})
    if "httpMethod" in request_context:
        request_context["httpMethod"] = "GET"
    return {**event, "httpMethod": "GET", "requestContext": request_context}
