"""`arcollect check tin|email`: what a clerk reading a W-9 types, and what a script reads back — the verdict, the
normalised form (a TIN only ever masked), the reasons, and the exit code (0 valid, 1 invalid or not decided,
2 for a type that does not exist). DNS is the tests' own resolver, never the network."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from arcollect.cli.app import app
from shared.onboarding import dns_check

runner = CliRunner()


def check(*args: str) -> Any:
    return runner.invoke(app, ["check", *args])


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dns_check.StubResolver:
    stub = dns_check.StubResolver({"acme-corp.com": ["mx1.acme-corp.com"]}, timeouts={"slow-dns.com"})
    monkeypatch.setattr(dns_check, "DnsPythonResolver", lambda *args, **kwargs: stub)
    return stub


def test_a_valid_ein_exits_0_and_shows_only_its_last_four_digits() -> None:
    done = check("tin", "--type", "ein", "04-2103594")

    assert done.exit_code == 0, done.output
    assert "VALID EIN" in done.output and "3594" in done.output
    assert "042103594" not in done.output and "04-2103594" not in done.output


def test_an_ssn_for_a_corporation_is_invalid_with_a_reason_a_clerk_reads() -> None:
    done = check("tin", "--type", "ssn", "536-22-1234", "--legal-name", "Acme Inc", "--json")

    assert done.exit_code == 1
    verdict = json.loads(done.output)
    assert verdict["valid"] is False and verdict["normalised_masked"].endswith("1234")
    assert any("EIN" in reason for reason in verdict["reasons"])
    assert "536221234" not in done.output


@pytest.mark.parametrize(
    "written",
    [
        "536-22-1234",
        "536 22 1234",
        "536\u201322\u20131234",
        "".join(chr(0xFF10 + int(d)) for d in "536221234"),
        " 536221234 ",
    ],
)
def test_separators_and_full_width_digits_give_the_same_verdict(written: str) -> None:
    done = check("tin", "--type", "ssn", written, "--json")

    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["normalised_masked"].endswith("1234")


@pytest.mark.parametrize(
    ("kind", "value"),
    [("ein", "07-1234567"), ("ssn", "666-12-3456"), ("ssn", "078-05-1120"), ("itin", "912-93-4567"), ("ssn", "")],
)
def test_numbers_the_irs_never_issued_exit_1(kind: str, value: str) -> None:
    done = check("tin", "--type", kind, value, "--json")

    assert done.exit_code == 1, done.output
    assert json.loads(done.output)["reasons"]


def test_a_tin_type_that_does_not_exist_is_a_usage_error() -> None:
    done = check("tin", "--type", "vat", "DE136695976")

    assert done.exit_code == 2
    assert "eu_vat" in done.output


def test_an_address_whose_domain_takes_mail_is_valid_and_checked(dns: dns_check.StubResolver) -> None:
    done = check("email", "AP@Acme-Corp.com", "--json")

    assert done.exit_code == 0, done.output
    verdict = json.loads(done.output)
    assert (verdict["verdict"], verdict["normalised"], verdict["dns"]) == ("valid", "ap@acme-corp.com", "checked")
    assert dns.asked == ["acme-corp.com"]


def test_a_dns_timeout_is_retry_later_never_a_verdict_and_exits_1(dns: dns_check.StubResolver) -> None:
    done = check("email", "ap@slow-dns.com", "--json")

    assert done.exit_code == 1
    assert json.loads(done.output)["verdict"] == "retry_later"


def test_no_dns_checks_syntax_and_lists_only_and_says_so(dns: dns_check.StubResolver) -> None:
    valid = check("email", "billing@unknown-domain.com", "--no-dns", "--json")
    disposable = check("email", "ap@sub.mailinator.com", "--no-dns", "--json")
    no_reply = check("email", "no-reply@acme-corp.com", "--no-dns")

    assert valid.exit_code == 0 and json.loads(valid.output)["dns"] == "not_checked"
    assert any("DNS" in w for w in json.loads(valid.output)["warnings"])
    assert disposable.exit_code == 1 and "disposable" in json.loads(disposable.output)["reasons"][0]
    assert no_reply.exit_code == 1 and "no-reply" in no_reply.output
    assert dns.asked == []


def test_a_huge_value_is_refused_in_a_few_lines_never_echoed() -> None:
    done = check("tin", "--type", "ein", "9" * 10_000, "--json")

    assert done.exit_code == 1
    assert len(done.output) < 1_000 and "9" * 20 not in done.output
