"""The API answers like INTERFACES.md: real API Gateway REST proxy events (built as the local gateway builds
them) through the real handler, and through a resolver built the same way for the cases that need routes
the API does not have yet (a JSON body, a domain error, a crash)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as PowertoolsNotFound
from pydantic import BaseModel, Field
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from arcollect.local.lambda_context import LocalLambdaContext
from arcollect.local.proxy_event import request_to_event
from functions.api.handler import handler
from shared.api.resolver import MAX_BODY_BYTES, ContractResolver
from shared.errors import ColumnMapError, ConflictError, DomainError, FileFormatError, NotFoundError, ValidationError

ACCOUNT = "123456789012"
CONTEXT = LocalLambdaContext(
    function_name="arcollect-test-api", invoked_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:api"
)


def proxy_event(
    method: str,
    path: str,
    *,
    body: bytes | str | None = None,
    content_type: str | None = None,
    query: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    builder = EnvironBuilder(
        method=method, path=path, data=body, content_type=content_type, query_string=query, headers=headers
    )
    return request_to_event(Request(builder.get_environ()), "test", ACCOUNT)


def header(result: dict[str, Any], name: str) -> str | None:
    values = (result.get("multiValueHeaders") or {}).get(name) or []
    single = (result.get("headers") or {}).get(name)
    return ", ".join(values) if values else single


def error_of(result: dict[str, Any]) -> dict[str, Any]:
    assert header(result, "Content-Type") == "application/json"
    document = json.loads(result["body"])
    assert set(document) == {"error"}
    assert set(document["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = document["error"]
    return error


# --- the real handler --------------------------------------------------------------------------------------


def test_health_answers_ok() -> None:
    result = handler(proxy_event("GET", "/health"), CONTEXT)
    assert (result["statusCode"], json.loads(result["body"])) == (200, {"status": "ok"})


def test_an_unknown_route_is_a_404_in_the_envelope() -> None:
    result = handler(proxy_event("GET", "/no/such/route"), CONTEXT)
    assert result["statusCode"] == 404
    assert error_of(result)["code"] == "not_found"


def test_a_wrong_method_is_a_405_whose_allow_header_lists_the_methods_the_path_has() -> None:
    result = handler(proxy_event("DELETE", "/health"), CONTEXT)
    assert result["statusCode"] == 405
    assert header(result, "Allow") == "GET, HEAD"
    error = error_of(result)
    assert error["code"] == "method_not_allowed" and "GET, HEAD" in error["message"]


def test_options_on_a_route_is_a_405_too_as_there_is_no_cors_preflight() -> None:
    result = handler(proxy_event("OPTIONS", "/health"), CONTEXT)
    assert (result["statusCode"], header(result, "Allow")) == (405, "GET, HEAD")


def test_head_on_a_get_route_answers_its_status_and_headers_without_a_body() -> None:
    get = handler(proxy_event("GET", "/health"), CONTEXT)
    head = handler(proxy_event("HEAD", "/health"), CONTEXT)
    assert head["statusCode"] == get["statusCode"] == 200
    assert header(head, "Content-Type") == header(get, "Content-Type") == "application/json"
    assert head["body"] == "" and get["body"]


def test_head_on_an_unknown_route_is_a_404_without_a_body() -> None:
    result = handler(proxy_event("HEAD", "/no/such/route"), CONTEXT)
    assert (result["statusCode"], result["body"]) == (404, "")


def test_a_body_over_the_limit_is_a_413_whatever_the_route() -> None:
    oversized = b"{" + b" " * MAX_BODY_BYTES + b"}"
    for path in ("/health", "/no/such/route"):
        result = handler(proxy_event("POST", path, body=oversized, content_type="application/json"), CONTEXT)
        assert result["statusCode"] == 413
        assert error_of(result)["code"] == "payload_too_large"


def test_a_binary_body_over_the_limit_is_measured_in_bytes_not_base64_characters() -> None:
    event = proxy_event("POST", "/health", body=b"\xff" * (MAX_BODY_BYTES - 1), content_type="application/pdf")
    assert event["isBase64Encoded"] and len(event["body"]) > MAX_BODY_BYTES
    assert handler(event, CONTEXT)["statusCode"] == 405  # under the limit: routed, and /health takes no POST

    event = proxy_event("POST", "/health", body=b"\xff" * (MAX_BODY_BYTES + 1), content_type="application/pdf")
    assert handler(event, CONTEXT)["statusCode"] == 413


def test_the_openapi_document_lists_health_and_points_at_the_stage_it_was_reached_on() -> None:
    result = handler(proxy_event("GET", "/openapi.json"), CONTEXT)
    assert (result["statusCode"], header(result, "Content-Type")) == (200, "application/json")
    document = json.loads(result["body"])
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "arcollect API"
    assert "get" in document["paths"]["/health"]
    assert "/openapi.json" not in document["paths"] and "/docs" not in document["paths"]
    assert document["servers"] == [{"url": "/"}]  # the local gateway serves at the root
    invalid = document["paths"]["/health"]["get"]["responses"]["422"]["content"]["application/json"]["schema"]
    envelope = document["components"]["schemas"][invalid["$ref"].rsplit("/", 1)[-1]]
    assert envelope["required"] == ["error"]
    assert envelope["properties"]["error"]["required"] == ["code", "message", "details"]

    deployed = proxy_event("GET", "/openapi.json")
    # Reached on the execute-api URL of stage prod, whose paths carry the stage.
    deployed["requestContext"].update(stage="prod", path="/prod/openapi.json")
    assert json.loads(handler(deployed, CONTEXT)["body"])["servers"] == [{"url": "/prod"}]


def test_docs_is_a_swagger_ui_page_carrying_the_openapi_document_with_no_assets_from_elsewhere() -> None:
    result = handler(proxy_event("GET", "/docs"), CONTEXT)
    assert (result["statusCode"], header(result, "Content-Type")) == (200, "text/html")
    page = result["body"]
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "SwaggerUIBundle(" in page and '"/health"' in page
    # Swagger UI's script and styles are inlined by Powertools: the page loads nothing from a CDN.
    assert "<style>" in page and "<link rel='stylesheet'" not in page and "<script src=" not in page


def test_docs_also_answers_the_openapi_document_as_json_and_head() -> None:
    as_json = handler(proxy_event("GET", "/docs", query="format=json"), CONTEXT)
    assert "/health" in json.loads(as_json["body"])["paths"]
    head = handler(proxy_event("HEAD", "/docs"), CONTEXT)
    assert (head["statusCode"], head["body"], header(head, "Content-Type")) == (200, "", "text/html")
    post = handler(proxy_event("POST", "/docs"), CONTEXT)
    assert (post["statusCode"], header(post, "Allow")) == (405, "GET, HEAD")


def test_an_event_the_resolver_cannot_read_is_a_500_in_the_envelope_not_a_traceback() -> None:
    result = handler({"httpMethod": "GET", "requestContext": {"requestId": "r1"}}, CONTEXT)  # no "path"
    assert result["statusCode"] == 500
    error = error_of(result)
    assert error["code"] == "internal_error" and "Traceback" not in result["body"]


# --- a resolver built like the handler's, with routes that take bodies and raise --------------------------


class Promise(BaseModel):
    date: str
    amount: int = Field(gt=0)
    tin: str | None = None


@pytest.fixture
def app() -> ContractResolver:
    resolver = ContractResolver(
        logger=Logger(service="api-test"),
        title="test API",
        description="routes that exercise the error mapping",
    )

    @resolver.post("/promises")
    def promise(promise: Promise) -> dict[str, Any]:
        return {"amount": promise.amount}

    @resolver.post("/raw")
    def raw() -> dict[str, Any]:
        return {"keys": sorted(resolver.current_event.json_body)}

    @resolver.get("/invoices/<invoice_id>")
    def invoice(invoice_id: str) -> dict[str, Any]:
        raise PowertoolsNotFound(f"No invoice {invoice_id}.")

    @resolver.post("/domain/<kind>")
    def domain(kind: str) -> dict[str, Any]:
        errors: dict[str, DomainError] = {
            "validation": ValidationError("amount must be positive", ["line 2: amount -1"]),
            "not_found": NotFoundError("no customer CUST-9"),
            "conflict": ConflictError("payment P-1 is already recorded with other details"),
            "file": FileFormatError("not UTF-8"),
            "map": ColumnMapError("unknown key 'form'"),
            "other": DomainError("something the domain refused"),
        }
        raise errors[kind]

    @resolver.get("/crash")
    def crash() -> dict[str, Any]:
        raise RuntimeError("connection string with a secret in it")

    return resolver


def test_malformed_json_is_a_400_not_a_validation_error(app: ContractResolver) -> None:
    result = app.resolve(proxy_event("POST", "/promises", body='{"date": ', content_type="application/json"), CONTEXT)
    assert result["statusCode"] == 400
    error = error_of(result)
    assert error["code"] == "malformed_json"
    assert error["details"] == [
        {"location": "body", "type": "json_invalid", "message": "Expecting value at character 9"}
    ]


def test_malformed_json_read_by_the_route_itself_is_a_400_too(app: ContractResolver) -> None:
    result = app.resolve(proxy_event("POST", "/raw", body="{nope", content_type="application/json"), CONTEXT)
    assert result["statusCode"] == 400
    error = error_of(result)
    assert error["code"] == "malformed_json"
    assert error["details"][0]["message"].endswith("at character 1")


def test_a_binary_body_sent_as_json_is_a_400_not_a_crash(app: ContractResolver) -> None:
    event = proxy_event("POST", "/raw", body=b"\xff\xfe\x00", content_type="application/json")
    assert event["isBase64Encoded"]
    result = app.resolve(event, CONTEXT)
    assert (result["statusCode"], error_of(result)["code"]) == (400, "malformed_body")


def test_a_body_that_breaks_the_model_is_a_422_naming_each_field_but_never_echoing_its_value(
    app: ContractResolver,
) -> None:
    body = json.dumps({"amount": -5, "tin": ["12-3456789"]})
    result = app.resolve(proxy_event("POST", "/promises", body=body, content_type="application/json"), CONTEXT)
    assert result["statusCode"] == 422
    error = error_of(result)
    assert error["code"] == "validation_error"
    problems = {(d["location"], d["field"], d["type"]) for d in error["details"]}
    assert problems == {
        ("body", "date", "missing"),
        ("body", "amount", "greater_than"),
        ("body", "tin", "string_type"),
    }
    assert all(d["message"] for d in error["details"])
    assert "12-3456789" not in result["body"]


def test_a_body_of_another_media_type_is_a_415(app: ContractResolver) -> None:
    result = app.resolve(proxy_event("POST", "/promises", body="date=x", content_type="text/csv"), CONTEXT)
    assert (result["statusCode"], error_of(result)["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("validation", 422, "validation_error"),
        ("not_found", 404, "not_found"),
        ("conflict", 409, "conflict"),
        ("file", 400, "bad_file"),
        ("map", 400, "bad_map"),
        ("other", 400, "domain_error"),
    ],
)
def test_each_domain_error_becomes_its_status_with_its_own_code_and_message(
    app: ContractResolver, kind: str, status: int, code: str
) -> None:
    result = app.resolve(proxy_event("POST", f"/domain/{kind}"), CONTEXT)
    assert result["statusCode"] == status
    error = error_of(result)
    assert error["code"] == code and error["message"]


def test_a_domain_errors_details_are_listed_as_messages(app: ContractResolver) -> None:
    error = error_of(app.resolve(proxy_event("POST", "/domain/validation"), CONTEXT))
    assert error == {
        "code": "validation_error",
        "message": "amount must be positive",
        "details": [{"message": "line 2: amount -1"}],
    }


def test_a_route_that_finds_nothing_is_a_404_with_its_reason_not_a_405(app: ContractResolver) -> None:
    result = app.resolve(proxy_event("GET", "/invoices/INV-7"), CONTEXT)
    assert result["statusCode"] == 404 and header(result, "Allow") is None
    assert error_of(result)["message"] == "No invoice INV-7."


def test_allow_lists_every_method_of_a_path_with_parameters(app: ContractResolver) -> None:
    result = app.resolve(proxy_event("PUT", "/domain/conflict"), CONTEXT)
    assert (result["statusCode"], header(result, "Allow")) == (405, "POST")


def test_an_unexpected_exception_is_a_generic_500_and_is_logged(
    app: ContractResolver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        result = app.resolve(proxy_event("GET", "/crash"), CONTEXT)
    assert result["statusCode"] == 500
    error = error_of(result)
    assert error["code"] == "internal_error"
    assert "secret" not in result["body"] and "Traceback" not in result["body"]
    [logged] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert logged.exc_info is not None and logged.exc_info[0] is RuntimeError
    assert logged.__dict__["path"] == "/crash"


def test_powertools_dev_mode_neither_prints_requests_nor_answers_tracebacks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_DEV", "1")
    resolver = ContractResolver(logger=Logger(service="api-test"), title="t", description="d")

    @resolver.post("/crash")
    def crash() -> dict[str, Any]:
        raise RuntimeError("boom")

    body = json.dumps({"tin": "12-3456789"})
    result = resolver.resolve(proxy_event("POST", "/crash", body=body, content_type="application/json"), CONTEXT)
    assert result["statusCode"] == 500 and "Traceback" not in result["body"]
    assert "12-3456789" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "text/plain"],
)
def test_a_body_that_is_not_json_is_a_415_before_anything_parses_it(content_type: str) -> None:
    event = proxy_event("POST", "/portal/links", body=b'{"email": "a@b.example"}', content_type=content_type)

    result = handler(event, CONTEXT)

    assert result["statusCode"] == 415
    assert json.loads(result["body"])["error"]["code"] == "unsupported_media_type"
