"""The external TIN check: the stub answers what it is configured to, and the VIES registry reads every kind
of VIES answer, treating an outage as `unavailable` (the customer waits) and never as `not_matched`. VIES is
never called: the transport, or urllib's opener underneath it, is a fake."""

from __future__ import annotations

import email.message
import http.client
import io
import json
import urllib.error
import urllib.request
import urllib.response
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.onboarding.tin_external import (
    VIES_CHECK_URL,
    ExternalResult,
    StubRegistry,
    TinRegistry,
    UrllibTransport,
    ViesRegistry,
)

DE_VAT = "DE136695976"  # stdnum's doctest number


class FakeTransport:
    """Answers every request with one status and body (or raises), and keeps what it was sent."""

    def __init__(self, status: int = 200, body: Any = None, raises: BaseException | None = None) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.raises = raises
        self.sent: list[tuple[urllib.request.Request, float]] = []

    def __call__(self, request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
        self.sent.append((request, timeout))
        if self.raises is not None:
            raise self.raises
        return self.status, self.body

    def payload(self) -> dict[str, Any]:
        data = self.sent[0][0].data
        assert isinstance(data, bytes)
        return dict(json.loads(data))


def vies(transport: FakeTransport, **options: Any) -> ViesRegistry:
    return ViesRegistry(transport=transport, **options)


def ask(registry: TinRegistry, tin_type: str = "eu_vat", compact: str = DE_VAT) -> ExternalResult:
    return registry.check(tin_type, compact, None)


def test_the_stub_answers_from_its_configured_sets() -> None:
    stub = StubRegistry(matched=["911144442"], not_matched=["DE136695978"])

    assert ask(stub, "ein", "911144442").status == "matched"
    assert ask(stub, "eu_vat", "DE136695978").status == "not_matched"


def test_the_stub_matches_other_eu_vat_numbers_and_does_not_apply_to_types_vies_does_not_cover() -> None:
    stub = StubRegistry()

    assert ask(stub, "eu_vat", DE_VAT).status == "matched"
    assert [ask(stub, t, "911144442").status for t in ("ein", "ssn", "itin", "gb_utr", "ca_bn")] == [
        "not_applicable"
    ] * 5


def test_the_stub_in_an_outage_is_unavailable_for_every_number() -> None:
    stub = StubRegistry(matched=[DE_VAT], not_matched=["DE136695978"], outage=True)

    assert {ask(stub, "eu_vat", n).status for n in (DE_VAT, "DE136695978", "FR61954506077")} == {"unavailable"}


def test_the_stub_records_what_it_was_asked_and_keeps_the_numbers_out_of_its_repr() -> None:
    stub = StubRegistry(matched=[DE_VAT])
    stub.check("eu_vat", DE_VAT, "DE")

    assert stub.calls == [("eu_vat", DE_VAT, "DE")]
    assert DE_VAT not in repr(stub)


def test_vies_is_asked_with_a_post_of_the_country_code_and_the_number_within_the_timeout() -> None:
    transport = FakeTransport(200, {"valid": True, "name": "ACME GMBH", "requestIdentifier": "WAPIAAAAX"})

    result = ask(vies(transport, timeout=4.5))

    request, timeout = transport.sent[0]
    assert (request.full_url, request.get_method(), timeout) == (VIES_CHECK_URL, "POST", 4.5)
    assert request.get_header("Content-type") == "application/json"
    assert transport.payload() == {"countryCode": "DE", "vatNumber": "136695976"}
    assert (result.status, result.source, result.registered_name, result.reference) == (
        "matched",
        "vies",
        "ACME GMBH",
        "WAPIAAAAX",
    )


def test_a_greek_number_written_with_gr_is_asked_as_el() -> None:
    transport = FakeTransport(200, {"valid": True})

    ask(vies(transport), "eu_vat", "GR094259216")

    assert transport.payload() == {"countryCode": "EL", "vatNumber": "094259216"}


def test_a_northern_ireland_uk_vat_number_is_asked_as_xi_and_other_uk_numbers_are_not_asked() -> None:
    transport = FakeTransport(200, {"valid": True})
    registry = vies(transport)

    assert registry.check("gb_vat", "980780684", "GB").status == "not_applicable"
    assert registry.check("gb_vat", "980780684", "XI").status == "matched"
    assert transport.payload() == {"countryCode": "XI", "vatNumber": "980780684"}


def test_our_own_vat_number_is_sent_as_requester_for_a_consultation_number() -> None:
    transport = FakeTransport(200, {"valid": True, "requestIdentifier": "WAPIAAAAY"})

    result = ask(vies(transport, requester_vat="NL004495445B01"))

    assert transport.payload()["requesterMemberStateCode"] == "NL"
    assert transport.payload()["requesterNumber"] == "004495445B01"
    assert result.reference == "WAPIAAAAY"


@pytest.mark.parametrize("tin_type", ["ein", "ssn", "itin", "gb_vat", "gb_utr", "ca_bn"])
def test_types_vies_does_not_cover_are_not_applicable_and_vies_is_not_called(tin_type: str) -> None:
    transport = FakeTransport(200, {"valid": True})

    assert ask(vies(transport), tin_type, "911144442").status == "not_applicable"
    assert transport.sent == []


def test_a_prefix_vies_does_not_know_is_not_applicable() -> None:
    transport = FakeTransport(200, {"valid": True})

    assert ask(vies(transport), "eu_vat", "EU372000041").status == "not_applicable"
    assert transport.sent == []


@pytest.mark.parametrize(
    "answer",
    [
        {"valid": False, "name": "---", "address": "---"},
        {"isValid": False, "userError": "INVALID"},  # the GET /ms/{cc}/vat/{number} shape
        {"actionSucceed": False, "errorWrappers": [{"error": "INVALID_INPUT", "message": "bad"}]},
    ],
)
def test_a_number_vies_does_not_know_is_not_matched(answer: dict[str, Any]) -> None:
    assert ask(vies(FakeTransport(200, answer))).status == "not_matched"


def test_invalid_input_with_http_400_is_not_matched() -> None:
    answer = {"actionSucceed": False, "errorWrappers": [{"error": "INVALID_INPUT"}]}

    assert ask(vies(FakeTransport(400, answer))).status == "not_matched"


@pytest.mark.parametrize(
    "answer",
    [
        {"valid": True, "name": "---", "userError": "VALID"},
        {"isValid": True, "userError": "VALID", "name": "ACME"},
    ],
)
def test_a_registered_number_is_matched_and_a_withheld_name_is_none(answer: dict[str, Any]) -> None:
    result = ask(vies(FakeTransport(200, answer)))

    assert result.matched
    assert result.registered_name == (None if answer["name"] == "---" else answer["name"])


@pytest.mark.parametrize(
    "code",
    [
        "MS_UNAVAILABLE",
        "SERVICE_UNAVAILABLE",
        "TIMEOUT",
        "GLOBAL_MAX_CONCURRENT_REQ",
        "GLOBAL_MAX_CONCURRENT_REQ_TIME",
        "MS_MAX_CONCURRENT_REQ",
        "MS_MAX_CONCURRENT_REQ_TIME",
    ],
)
@pytest.mark.parametrize("status", [200, 500, 503])
def test_a_vies_try_later_error_is_unavailable_not_not_matched(code: str, status: int) -> None:
    for answer in (
        {"actionSucceed": False, "errorWrappers": [{"error": code, "message": "try later"}]},
        {"valid": False, "userError": code},
        {"valid": True, "userError": code},  # the error wins over the flag beside it
    ):
        result = ask(vies(FakeTransport(status, answer)))

        assert result.status == "unavailable"
        assert code in result.detail and "busy or down" in result.detail


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b"<html>Internal Server Error</html>"),
        (503, b'{"valid": false}'),
        (502, b""),
        (200, b"<html>maintenance</html>"),
        (200, b"\xff\xfe"),
        (200, b"[]"),
        (200, b"{}"),
        (404, b'{"message": "not found"}'),
        (429, b"{}"),
        (200, b'{"actionSucceed": false}'),
        (403, b'{"actionSucceed": false, "errorWrappers": [{"error": "IP_BLOCKED"}]}'),
    ],
)
def test_an_answer_vies_does_not_document_is_unavailable(status: int, body: bytes) -> None:
    assert ask(vies(FakeTransport(status, body))).status == "unavailable"


def test_an_unknown_vies_error_code_is_named_in_the_detail() -> None:
    answer = {"actionSucceed": False, "errorWrappers": [{"error": "VAT_BLOCKED"}]}

    assert "VAT_BLOCKED" in ask(vies(FakeTransport(200, answer))).detail


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError("no route to host"),
        TimeoutError("timed out"),
        ConnectionResetError(),
        http.client.RemoteDisconnected("closed"),
    ],
)
def test_a_network_failure_is_unavailable(error: BaseException) -> None:
    result = ask(vies(FakeTransport(raises=error)))

    assert result.status == "unavailable" and type(error).__name__ in result.detail


@given(
    st.from_regex(r"[0-9]{9}", fullmatch=True),
    st.sampled_from(
        [
            (200, {"valid": True}),
            (200, {"valid": False}),
            (200, {"valid": False, "userError": "MS_UNAVAILABLE"}),
            (500, {}),
        ]
    ),
    st.booleans(),
)
def test_no_detail_repeats_the_number_even_when_vies_echoes_it(
    digits: str, answer: tuple[int, dict[str, Any]], echo: bool
) -> None:
    status, body = answer
    if echo:
        body = {**body, "errorWrappers": [{"error": f"DE{digits}"}], "userError": f"DE{digits}"}

    result = ask(vies(FakeTransport(status, body)), "eu_vat", f"DE{digits}")

    assert digits not in result.detail and digits not in repr(result)


class FakeHttps(urllib.request.BaseHandler):
    """An HTTPS handler with the network taken out: every request gets one canned answer."""

    def __init__(self, status: int = 200, body: bytes = b"", raises: BaseException | None = None) -> None:
        self.status, self.body, self.raises = status, body, raises
        self.timeouts: list[float | None] = []

    def https_open(self, req: urllib.request.Request) -> urllib.response.addinfourl:
        self.timeouts.append(req.timeout)
        if self.raises is not None:
            raise self.raises
        response = urllib.response.addinfourl(io.BytesIO(self.body), email.message.Message(), req.full_url, self.status)
        response.msg = "canned"  # type: ignore[attr-defined]
        return response


def offline_opener(handler: FakeHttps) -> urllib.request.OpenerDirector:
    opener = urllib.request.OpenerDirector()
    for part in (handler, urllib.request.HTTPErrorProcessor(), urllib.request.HTTPDefaultErrorHandler()):
        opener.add_handler(part)
    return opener


def test_the_urllib_transport_reads_a_success_and_passes_the_timeout() -> None:
    handler = FakeHttps(200, json.dumps({"valid": True}).encode())

    result = ViesRegistry(transport=UrllibTransport(offline_opener(handler)), timeout=3.0).check("eu_vat", DE_VAT, None)

    assert (result.status, handler.timeouts) == ("matched", [3.0])


def test_the_urllib_transport_returns_an_http_error_with_its_body_instead_of_raising() -> None:
    body = json.dumps({"actionSucceed": False, "errorWrappers": [{"error": "INVALID_INPUT"}]}).encode()

    assert UrllibTransport(offline_opener(FakeHttps(400, body)))(urllib.request.Request(VIES_CHECK_URL), 1.0) == (
        400,
        body,
    )


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        (FakeHttps(503, b"<html>Service Unavailable</html>"), "unavailable"),
        (FakeHttps(raises=urllib.error.URLError(TimeoutError("timed out"))), "unavailable"),
        (FakeHttps(400, b'{"errorWrappers": [{"error": "INVALID_INPUT"}]}'), "not_matched"),
    ],
)
def test_the_urllib_transport_feeds_outages_and_refusals_through_the_same_reading(
    handler: FakeHttps, status: str
) -> None:
    registry = ViesRegistry(transport=UrllibTransport(offline_opener(handler)))

    assert registry.check("eu_vat", DE_VAT, None).status == status
