"""The local gateway's proxy events: the request line as API Gateway reports it for an API served at the
root (as behind a custom domain), so what the function derives from it points back at the gateway."""

from __future__ import annotations

from typing import Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from arcollect.local.proxy_event import request_to_event


def event_for(method: str, path: str) -> dict[str, Any]:
    return request_to_event(Request(EnvironBuilder(method=method, path=path).get_environ()), "local", "1" * 12)


def test_the_request_context_path_carries_no_stage_prefix_because_the_gateway_serves_at_the_root() -> None:
    context = event_for("GET", "/openapi.json")["requestContext"]
    assert (context["stage"], context["path"], context["resourcePath"]) == ("local", "/openapi.json", "/{proxy+}")


def test_head_reaches_the_function_as_head() -> None:
    event = event_for("HEAD", "/health")
    assert (event["httpMethod"], event["requestContext"]["httpMethod"]) == ("HEAD", "HEAD")
    assert (event["body"], event["isBase64Encoded"]) == (None, False)
