"""The contract over real HTTP: the local gateway in front of the real API handler, as `arcollect local`
serves it (no emulator needed: none of these routes touches a table), one request at a time however many
arrive at once."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from typing import Any, TypeVar

import pytest
from aws_lambda_powertools import Logger

from arcollect.local.gateway import LocalGateway
from shared.api.resolver import MAX_BODY_BYTES, ContractResolver

T = TypeVar("T")

# How long the first request of the race waits for a second one to come in beside it. Without the gateway's
# lock the second arrives at once; with it, this is what the test costs, once.
RACE_WINDOW_SECONDS = 1.0


def http(url: str, *, method: str = "GET", data: bytes | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def all_at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls on threads of their own, released together, loopback only; results in call order."""
    start = threading.Barrier(len(calls))

    def released(call: Callable[[], T]) -> T:
        start.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(released, calls))


def running(api_handler: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None) -> Iterator[LocalGateway]:
    local = LocalGateway(region="us-east-1", account_id="123456789012", api_handler=api_handler)
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    yield from running()


@pytest.fixture
def echo_gateway() -> Iterator[LocalGateway]:
    """A gateway whose API answers with the path of the event Powertools holds, after the first request has
    waited for a second one to start: the moment two requests at once would swap events."""
    app = ContractResolver(logger=Logger(service="echo-test"), title="echo", description="echo")
    second_request_started = threading.Event()
    first = threading.Lock()

    @app.get("/echo/<name>")
    def echo(name: str) -> dict[str, str]:
        if first.acquire(blocking=False):
            second_request_started.wait(RACE_WINDOW_SECONDS)
        else:
            second_request_started.set()
        return {"routed": name, "event_path": app.current_event.path}

    yield from running(lambda event, context: app.resolve(event, context))


def test_head_over_http_answers_the_get_routes_headers_and_no_body(gateway: LocalGateway) -> None:
    status, headers, body = http(f"{gateway.url}/health", method="HEAD")
    assert (status, headers["Content-Type"], body) == (200, "application/json", b"")


def test_a_wrong_method_over_http_is_a_405_with_allow(gateway: LocalGateway) -> None:
    status, headers, body = http(f"{gateway.url}/health", method="PUT", data=b"{}")
    assert (status, headers["Allow"]) == (405, "GET, HEAD")
    assert json.loads(body)["error"]["code"] == "method_not_allowed"


def test_an_oversized_body_over_http_is_a_413_in_the_envelope(gateway: LocalGateway) -> None:
    status, _, body = http(f"{gateway.url}/portal/links", method="POST", data=b"x" * (MAX_BODY_BYTES + 1))
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"


def test_the_docs_the_index_page_links_to_are_served_and_point_at_this_server(gateway: LocalGateway) -> None:
    status, headers, page = http(f"{gateway.url}/")
    assert status == 200 and b'href="/docs"' in page

    status, headers, page = http(f"{gateway.url}/docs")
    assert (status, headers["Content-Type"]) == (200, "text/html")
    assert b"SwaggerUIBundle(" in page

    status, _, document = http(f"{gateway.url}/openapi.json")
    assert status == 200
    assert json.loads(document)["servers"] == [{"url": "/"}]  # "Try it out" calls this gateway, not /local/...


def test_requests_at_once_are_answered_one_at_a_time_each_from_its_own_event(echo_gateway: LocalGateway) -> None:
    names = [f"request-{n}" for n in range(6)]

    answers = all_at_once([lambda name=name: http(f"{echo_gateway.url}/echo/{name}") for name in names])

    for name, (status, _, body) in zip(names, answers, strict=True):
        assert status == 200
        assert json.loads(body) == {"routed": name, "event_path": f"/echo/{name}"}


def test_different_requests_at_once_each_get_their_own_answer(gateway: LocalGateway) -> None:
    expected = {
        ("GET", "/health"): (200, b'{"status":"ok"}'),
        ("HEAD", "/health"): (200, b""),
        ("PUT", "/health"): (405, "method_not_allowed"),
        ("GET", "/no/such/route"): (404, "not_found"),
    }
    requests = [key for key in expected for _ in range(3)]

    answers = all_at_once(
        [lambda method=method, path=path: http(f"{gateway.url}{path}", method=method) for method, path in requests]
    )

    for (method, path), (status, _, body) in zip(requests, answers, strict=True):
        want_status, want = expected[(method, path)]
        got = json.loads(body)["error"]["code"] if status >= 400 else body.replace(b" ", b"")
        assert (status, got) == (want_status, want), f"{method} {path}"
