"""The external TIN check, a pluggable step: after `tin_rules` passes a TIN, a register may confirm it
(VIES for EU VAT numbers). Offline rules prove a number is well formed; only the register knows whether it is
issued and live.

An outage is not a verdict: a register that cannot be reached answers `unavailable` and the customer stays
pending (the workflow tries again later), never failed. Nothing here retries: the Step Functions workflow owns
retries and their back-off, so one `check` is one request.

`StubRegistry` answers from configured sets (tests and local mode, no network); `ViesRegistry` asks the EU's
VIES REST API (`POST .../vies/rest-api/check-vat-number`) through urllib, with a timeout and an injectable
transport so tests never reach the network. No result or detail carries the TIN.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ExternalStatus = Literal["matched", "not_matched", "unavailable", "not_applicable"]
EXTERNAL_STATUSES: tuple[ExternalStatus, ...] = ("matched", "not_matched", "unavailable", "not_applicable")

VIES_BASE_URL = "https://ec.europa.eu/taxation_customs/vies/rest-api"
VIES_CHECK_URL = f"{VIES_BASE_URL}/check-vat-number"
# VIES answers requests to the test service for its documented test numbers without asking a member state.
VIES_TEST_URL = f"{VIES_BASE_URL}/check-vat-test-service"

# Member-state codes VIES answers for (EL is Greece; XI is Northern Ireland under the Windsor Framework).
VIES_MEMBER_STATES = frozenset(
    {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU"}
    | {"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI"}
)
# VIES error codes that say "ask again later", not "this number is wrong".
VIES_TRANSIENT_ERRORS = frozenset(
    {
        "SERVICE_UNAVAILABLE",
        "MS_UNAVAILABLE",
        "TIMEOUT",
        "GLOBAL_MAX_CONCURRENT_REQ",
        "GLOBAL_MAX_CONCURRENT_REQ_TIME",
        "MS_MAX_CONCURRENT_REQ",
        "MS_MAX_CONCURRENT_REQ_TIME",
    }
)
# VIES refuses the number itself: as good as "not registered".
VIES_REFUSALS = frozenset({"INVALID_INPUT"})
_VIES_VERDICT_CODES = frozenset({"VALID", "INVALID"})
_CODE = re.compile(r"[A-Z][A-Z_]{0,39}")


@dataclass(frozen=True)
class ExternalResult:
    """One register's answer. `detail` is a clerk sentence without the TIN; `registered_name` and
    `reference` (the VIES request identifier or date) are kept as evidence when the register gives them."""

    status: ExternalStatus
    source: str
    detail: str
    registered_name: str | None = None
    reference: str | None = None

    @property
    def matched(self) -> bool:
        return self.status == "matched"


class TinRegistry(Protocol):
    """An external register of TINs. `compact` is `tin_rules.normalise_tin`'s form; `country` is the
    customer's country (ISO 3166 alpha-2) when known. Answers, never raises for an outage."""

    def check(self, tin_type: str, compact: str, country: str | None) -> ExternalResult: ...


def vies_member_state(tin_type: str, compact: str, country: str | None) -> str | None:
    """The VIES member-state code to ask for this TIN, or None when VIES does not cover it. EU VAT numbers carry
    it as their prefix (GR is asked as EL); a UK VAT number is in VIES only for Northern Ireland (country XI)."""
    if tin_type == "eu_vat":
        code = {"GR": "EL"}.get(compact[:2].upper(), compact[:2].upper())
        return code if code in VIES_MEMBER_STATES else None
    if tin_type == "gb_vat" and (country or "").upper() == "XI":
        return "XI"
    return None


def _vies_number(tin_type: str, compact: str) -> str:
    return compact[2:] if tin_type == "eu_vat" else compact


class StubRegistry:
    """Deterministic register for tests and local mode. Numbers in `not_matched` are not registered, those in
    `matched` are; any other number is matched when VIES would cover it and `not_applicable` otherwise.
    `outage=True` makes every check `unavailable`. `calls` records what was asked, for tests."""

    source = "stub"

    def __init__(self, matched: Iterable[str] = (), not_matched: Iterable[str] = (), *, outage: bool = False) -> None:
        self.matched = frozenset(matched)
        self.not_matched = frozenset(not_matched)
        self.outage = outage
        self.calls: list[tuple[str, str, str | None]] = []

    def __repr__(self) -> str:  # the configured numbers stay out of logs
        return f"StubRegistry(matched={len(self.matched)}, not_matched={len(self.not_matched)}, outage={self.outage})"

    def check(self, tin_type: str, compact: str, country: str | None) -> ExternalResult:
        self.calls.append((tin_type, compact, country))
        if self.outage:
            return ExternalResult(
                "unavailable", self.source, "the register could not be reached; the check will be tried again"
            )
        if compact in self.not_matched:
            return ExternalResult("not_matched", self.source, "the register does not know this number")
        if compact in self.matched or vies_member_state(tin_type, compact, country) is not None:
            return ExternalResult("matched", self.source, "the register confirms this number")
        return ExternalResult("not_applicable", self.source, f"no register is asked about a {tin_type} number")


Transport = Callable[[urllib.request.Request, float], tuple[int, bytes]]
"""Sends a request within a timeout in seconds: (HTTP status, body). Raises OSError (URLError, timeouts) or
http.client.HTTPException when there is no answer at all."""


class UrllibTransport:
    """The real transport: urllib, an HTTP error status returned with its body rather than raised. Proxies are
    not read from the environment (domain code does not); pass an opener built with a ProxyHandler for one."""

    def __init__(self, opener: urllib.request.OpenerDirector | None = None) -> None:
        self._opener = opener or urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __call__(self, request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:
            with error:
                try:
                    body = error.read()
                except (OSError, http.client.HTTPException):
                    body = b""
                return int(error.code), bytes(body or b"")


class ViesRegistry:
    """The EU's VAT Information Exchange System (VIES) REST API. One request per check, no retries (the
    workflow retries an `unavailable`). Network errors, 5xx answers, unreadable bodies and VIES's own
    "try later" errors (MS_UNAVAILABLE, SERVICE_UNAVAILABLE, TIMEOUT, the concurrency limits) are all
    `unavailable`; INVALID_INPUT and `valid: false` are `not_matched`; anything else it cannot read is
    `unavailable` with the code in the detail, so the customer waits rather than fails.

    `requester_vat` (our own EU VAT number, with its prefix) makes VIES return a consultation number, kept as
    the result's `reference`."""

    source = "vies"

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        timeout: float = 10.0,
        url: str = VIES_CHECK_URL,
        requester_vat: str | None = None,
    ) -> None:
        self._transport = transport or UrllibTransport()
        self._timeout = timeout
        self._url = url
        self._requester_vat = requester_vat

    def __repr__(self) -> str:
        return f"ViesRegistry(url={self._url!r}, timeout={self._timeout!r})"

    def check(self, tin_type: str, compact: str, country: str | None) -> ExternalResult:
        member_state = vies_member_state(tin_type, compact, country)
        if member_state is None:
            return ExternalResult("not_applicable", self.source, f"VIES does not cover a {tin_type} number")
        try:
            status, body = self._transport(self._request(member_state, _vies_number(tin_type, compact)), self._timeout)
        except (OSError, http.client.HTTPException) as error:
            return self._unavailable(f"VIES could not be reached ({type(error).__name__})")
        try:
            answer = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            answer = None
        if not isinstance(answer, dict):
            return self._unavailable(f"VIES answered HTTP {status} with a body it does not document")
        return self._read(status, answer)

    def _request(self, member_state: str, number: str) -> urllib.request.Request:
        payload: dict[str, str] = {"countryCode": member_state, "vatNumber": number}
        if self._requester_vat:
            payload["requesterMemberStateCode"] = self._requester_vat[:2].upper()
            payload["requesterNumber"] = self._requester_vat[2:]
        return urllib.request.Request(
            self._url,
            data=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )

    def _read(self, status: int, answer: dict[str, Any]) -> ExternalResult:
        codes = _error_codes(answer)
        if codes & VIES_TRANSIENT_ERRORS:
            return self._unavailable(f"VIES or the member state's register is busy or down ({_listed(codes)})")
        if status >= 500:
            return self._unavailable(f"VIES answered with HTTP {status}" + (f" ({_listed(codes)})" if codes else ""))
        if codes & VIES_REFUSALS:
            return ExternalResult(
                "not_matched", self.source, "VIES does not accept this as a VAT number of that member state"
            )
        if codes:
            return self._unavailable(f"VIES answered with an error this check does not know ({_listed(codes)})")
        valid = answer.get("valid", answer.get("isValid"))
        if status >= 400 or not isinstance(valid, bool):
            return self._unavailable(f"VIES answered HTTP {status} without saying whether the number is valid")
        reference = _text(answer.get("requestIdentifier")) or _text(answer.get("requestDate"))
        if not valid:
            return ExternalResult(
                "not_matched",
                self.source,
                "VIES says this VAT number is not registered (or no longer): ask the customer for a current one",
                reference=reference,
            )
        return ExternalResult(
            "matched",
            self.source,
            "VIES confirms this VAT number is registered",
            registered_name=_text(answer.get("name")),
            reference=reference,
        )

    def _unavailable(self, detail: str) -> ExternalResult:
        return ExternalResult("unavailable", self.source, f"{detail}; the check will be tried again")


def _error_codes(answer: dict[str, Any]) -> frozenset[str]:
    """VIES's error codes: in `errorWrappers` (its error envelope, sometimes with HTTP 200) or `userError`."""
    codes: set[str] = set()
    wrappers = answer.get("errorWrappers")
    if isinstance(wrappers, list):
        codes.update(str(w.get("error")) for w in wrappers if isinstance(w, dict) and w.get("error"))
    user_error = answer.get("userError")
    if isinstance(user_error, str) and user_error and user_error.upper() not in _VIES_VERDICT_CODES:
        codes.add(user_error)
    if answer.get("actionSucceed") is False and not codes:
        codes.add("UNKNOWN_ERROR")
    return frozenset(code.upper() for code in codes)


def _listed(codes: frozenset[str]) -> str:
    """The codes for a detail: only code-shaped words are repeated, so nothing VIES echoes reaches a reason."""
    return ", ".join(sorted(code if _CODE.fullmatch(code) else "an unreadable code" for code in codes))


def _text(value: object) -> str | None:
    """VIES writes "---" for what a member state does not disclose."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text if text and text.strip("-") else None
