"""How the API edge names and sizes things: statuses of domain errors, codes of plain HTTP errors, details
of invalid requests, and the size of a body as the client sent it."""

from __future__ import annotations

import base64

import pytest

from shared.api.errors import domain_status, request_error_details, status_code_name
from shared.api.resolver import body_size
from shared.errors import (
    ColumnMapError,
    ConflictError,
    DomainError,
    FileFormatError,
    NotFoundError,
    ValidationError,
)


class UnknownCustomer(NotFoundError):
    code = "unknown_customer"


class PolicyRefused(DomainError):
    code = "policy_refused"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError("x"), 422),
        (NotFoundError("x"), 404),
        (ConflictError("x"), 409),
        (FileFormatError("x"), 400),
        (ColumnMapError("x"), 400),
        (UnknownCustomer("x"), 404),
        (PolicyRefused("x"), 400),
        (DomainError("x"), 400),
    ],
)
def test_a_domain_error_takes_the_status_of_its_nearest_mapped_class(error: DomainError, status: int) -> None:
    assert domain_status(error) == status


def test_a_plain_http_error_has_a_stable_code_whatever_python_calls_its_status() -> None:
    assert status_code_name(413) == "payload_too_large"  # "Content Too Large" since Python 3.13
    assert status_code_name(429) == "too_many_requests"
    assert status_code_name(401) == "unauthorized"
    assert status_code_name(418) == "error"


def test_request_error_details_say_where_and_why_but_never_carry_the_rejected_value() -> None:
    errors = [
        {
            "loc": ("body", "tin"),
            "type": "string_too_long",
            "msg": "String should have at most 20 characters",
            "input": "12-3456789-secret",
        },
        {"loc": ("query", "status"), "type": "literal_error", "msg": "Input should be 'open'", "input": "x"},
        {"loc": ("body",), "type": "missing", "msg": "Field required"},
    ]
    details = request_error_details(errors)
    assert details == [
        {
            "location": "body",
            "field": "tin",
            "type": "string_too_long",
            "message": "String should have at most 20 characters",
        },
        {"location": "query", "field": "status", "type": "literal_error", "message": "Input should be 'open'"},
        {"location": "body", "type": "missing", "message": "Field required"},
    ]
    assert "secret" not in repr(details)


def test_a_nested_field_is_named_by_its_dotted_path() -> None:
    [detail] = request_error_details([{"loc": ("body", "invoice_ids", 3), "type": "string_type", "msg": "m"}])
    assert detail["field"] == "invoice_ids.3"


@pytest.mark.parametrize("raw", [b"", b"a", b"ab", b"abc", b"abcd", b"\x00\xff" * 1000 + b"z"])
def test_the_size_of_a_base64_body_is_the_size_it_decodes_to(raw: bytes) -> None:
    event = {"body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    assert body_size(event) == len(raw)


def test_the_size_of_a_text_body_is_counted_in_utf8_bytes_not_characters() -> None:
    assert body_size({"body": "€uro", "isBase64Encoded": False}) == 6
    assert body_size({"body": None}) == 0
    assert body_size({}) == 0
