"""The local gateway runs the portal authorizer as API Gateway runs a TOKEN authorizer: what it answers for a
missing header, a refusal, a failure, and which calls an authorizer's policy allows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from arcollect.local.authorizer import authorize, method_arn

ARN = method_arn("us-east-1", "123456789012", "local", "GET", "/portal/me")


def policy(effect: str, resource: str, **context: str) -> dict[str, Any]:
    return {
        "principalId": "C-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}],
        },
        "context": context,
    }


def refusing(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise Exception("Unauthorized")


def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("the table is gone")


def test_a_request_without_authorization_never_reaches_the_authorizer() -> None:
    calls: list[Any] = []

    decision = authorize(lambda event, context: calls.append(event) or {}, None, None, ARN)

    assert decision.refusal is not None and decision.refusal.status_code == 401
    assert calls == []


def test_the_authorizers_unauthorized_is_a_401_in_the_envelope() -> None:
    decision = authorize(refusing, None, "Bearer x", ARN)

    assert decision.refusal is not None
    assert decision.refusal.status_code == 401
    assert json.loads(decision.refusal.get_data())["error"]["code"] == "unauthorized"
    assert "Bearer" in decision.refusal.headers["WWW-Authenticate"]


def test_an_authorizer_that_fails_is_a_500_that_says_nothing_of_why() -> None:
    decision = authorize(failing, None, "Bearer x", ARN)

    assert decision.refusal is not None and decision.refusal.status_code == 500
    assert b"table" not in decision.refusal.get_data()


@pytest.mark.parametrize(
    ("resource", "allowed"),
    [
        ("arn:aws:execute-api:us-east-1:123456789012:local/local/*/portal/*", True),
        ("arn:aws:execute-api:us-east-1:123456789012:local/local/GET/portal/me", True),
        ("arn:aws:execute-api:us-east-1:123456789012:local/local/POST/portal/*", False),
        ("arn:aws:execute-api:us-east-1:123456789012:local/local/*/staff/*", False),
    ],
)
def test_a_policy_allows_exactly_the_calls_its_resources_match(resource: str, allowed: bool) -> None:
    decision = authorize(lambda event, context: policy("Allow", resource, customer_id="C-1"), None, "Bearer x", ARN)

    assert (decision.context is not None) is allowed
    if allowed:
        assert decision.context == {"principalId": "C-1", "customer_id": "C-1"}
    else:
        assert decision.refusal is not None and decision.refusal.status_code == 403


def test_an_explicit_deny_wins_over_an_allow() -> None:
    document = policy("Allow", "arn:aws:execute-api:*")
    document["policyDocument"]["Statement"].append({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": ARN})

    decision = authorize(lambda event, context: document, None, "Bearer x", ARN)

    assert decision.refusal is not None and decision.refusal.status_code == 403
