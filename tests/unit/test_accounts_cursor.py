"""The `customers list` cursor: DynamoDB's own LastEvaluatedKey, opaque to the user, checked when it comes back."""

from __future__ import annotations

import base64
import json

import pytest

from shared.accounts.queries import decode_cursor, encode_cursor
from shared.errors import ValidationError


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_a_cursor_carries_the_key_dynamodb_returned_back_unchanged() -> None:
    key = {"customer_id": {"S": "CUST-0042 Müller & Söhne"}}
    cursor = encode_cursor(key)
    assert cursor is not None and decode_cursor(cursor) == key


def test_a_cursor_is_url_safe_and_cannot_be_mistaken_for_an_option() -> None:
    cursor = encode_cursor({"customer_id": {"S": "?>?>~~~" * 20}})
    assert cursor is not None
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert not cursor.startswith("-")


def test_the_end_of_the_table_has_no_cursor() -> None:
    assert encode_cursor(None) is None and encode_cursor({}) is None
    assert decode_cursor(None) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor!",
        "%%%%",
        "eyJ",  # a truncated copy
        cursor_of([1, 2]),
        cursor_of({"customer_id": "C1"}),
        cursor_of({"customer_id": {"N": "1"}}),
        cursor_of({"customer_id": {"S": ""}}),
        cursor_of({"customer_id": {"S": 7}}),
        cursor_of({"customer_id": {"S": "C1"}, "invoice_id": {"S": "I1"}}),
        cursor_of({"invoice_id": {"S": "I1"}}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="),
        "A" * 5000,
        base64.urlsafe_b64encode(b"[" * 1500).decode(),  # deeper than json's recursion limit
    ],
)
def test_a_cursor_the_list_did_not_print_is_refused_with_a_clear_reason(cursor: str) -> None:
    with pytest.raises(ValidationError, match="not one `customers list` printed"):
        decode_cursor(cursor)
