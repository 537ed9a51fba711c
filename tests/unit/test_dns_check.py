"""MX resolution: the table-driven stub the workflow tests and local mode use, and the dnspython resolver
against a small DNS server on the loopback interface that answers from a zone the test writes (no query
leaves the machine)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.resolver
import dns.rrset
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.onboarding.dns_check import DnsPythonResolver, MxAnswer, MxStatus, StubResolver, ascii_domain

# --- the stub --------------------------------------------------------------------------------------------


def test_a_listed_domain_answers_with_its_mail_exchangers() -> None:
    stub = StubResolver({"acme-corp.com": ["mx1.acme-corp.com", "mx2.acme-corp.com"]})

    assert stub.mx("acme-corp.com") == MxAnswer.found(["mx1.acme-corp.com", "mx2.acme-corp.com"])


@given(st.lists(st.booleans(), min_size=13, max_size=13), st.booleans(), st.text(" \t", max_size=2))
def test_the_stub_matches_domains_whatever_their_case_final_dot_or_surrounding_spaces(
    upper: list[bool], final_dot: bool, space: str
) -> None:
    stub = StubResolver({"Acme-Corp.COM.": ["MX.acme-corp.com."]})
    cased = "".join(c.upper() if up else c for c, up in zip("acme-corp.com", upper, strict=True))

    assert stub.mx(space + cased + "." * final_dot + space) == MxAnswer.found(["mx.acme-corp.com"])


def test_a_unicode_domain_is_the_same_domain_as_its_a_label_form() -> None:
    stub = StubResolver({"bücher.de": ["mx.bücher.de"]})

    assert stub.mx("xn--bcher-kva.de").status is MxStatus.FOUND
    assert stub.mx("BÜCHER.de").status is MxStatus.FOUND
    assert stub.asked == ["xn--bcher-kva.de", "xn--bcher-kva.de"]


def test_a_domain_listed_without_exchangers_or_with_the_null_mx_accepts_no_mail() -> None:
    stub = StubResolver({"parked.com": [], "nullmx.com": ["."]})

    assert stub.mx("parked.com").status is MxStatus.NO_MAIL
    assert stub.mx("nullmx.com").status is MxStatus.NO_MAIL


def test_a_domain_listed_as_timing_out_times_out_even_if_it_also_has_exchangers() -> None:
    stub = StubResolver({"slow.com": ["mx.slow.com"]}, timeouts={"SLOW.com"})

    assert stub.mx("slow.com").status is MxStatus.TIMEOUT


def test_an_unknown_domain_does_not_exist_by_default_and_is_unchecked_in_local_mode() -> None:
    assert StubResolver({"acme.com": ["mx.acme.com"]}).mx("other.com").status is MxStatus.NO_DOMAIN
    assert StubResolver({}, unknown="unchecked").mx("other.com").status is MxStatus.UNCHECKED


def test_a_subdomain_of_a_listed_domain_is_a_domain_of_its_own() -> None:
    stub = StubResolver({"acme.com": ["mx.acme.com"]})

    assert stub.mx("eu.acme.com").status is MxStatus.NO_DOMAIN


def test_local_mode_resolves_the_demo_domains_and_leaves_the_others_unchecked() -> None:
    stub = StubResolver.local_mode(["northwind.com", "Contoso.co.uk"])

    assert stub.mx("contoso.co.uk") == MxAnswer.found(["mx.contoso.co.uk"])
    assert stub.mx("northwind.com").status is MxStatus.FOUND
    assert stub.mx("gmail.com").status is MxStatus.UNCHECKED


def test_the_stub_refuses_an_unknown_policy_for_unlisted_domains() -> None:
    with pytest.raises(ValueError):
        StubResolver({}, unknown="valid")  # type: ignore[arg-type]


def test_text_that_cannot_be_a_domain_name_does_not_exist_and_is_never_looked_up() -> None:
    stub = StubResolver({}, unknown="unchecked")

    for bad in ("", "a..b", "x" * 64 + ".com"):
        assert stub.mx(bad).status is MxStatus.NO_DOMAIN
    assert stub.asked == []


def test_the_a_label_form_is_lower_case_and_has_no_final_dot() -> None:
    assert ascii_domain(" Bücher.DE. ") == "xn--bcher-kva.de"
    with pytest.raises(ValueError):
        ascii_domain("  ")


# --- dnspython against a loopback DNS server ---------------------------------------------------------------


@dataclass
class Zone:
    records: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (name., type) -> rdata texts
    nxdomain: set[str] = field(default_factory=set)
    servfail: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    asked: list[tuple[str, str]] = field(default_factory=list)


class LoopbackDns:
    """A UDP DNS server on 127.0.0.1 that answers from a Zone; it serves until the test ends."""

    def __init__(self) -> None:
        self.zone = Zone()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def resolver(self, timeout: float = 2.0) -> DnsPythonResolver:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        return DnsPythonResolver(timeout=timeout, resolver=resolver)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            question = query.question[0]
            name, rdtype = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
            self.zone.asked.append((name, rdtype))
            if name in self.zone.silent:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.RA
            if name in self.zone.servfail:
                response.set_rcode(dns.rcode.SERVFAIL)
            elif name in self.zone.nxdomain:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif values := self.zone.records.get((name, rdtype)):
                response.answer.append(dns.rrset.from_text(name, 300, "IN", rdtype, *values))
            self.sock.sendto(response.to_wire(), peer)


@pytest.fixture
def server() -> Iterator[LoopbackDns]:
    running = LoopbackDns()
    yield running
    running.stop()


def test_mail_exchangers_come_back_in_preference_order_without_the_final_dot(server: LoopbackDns) -> None:
    server.zone.records[("acme.com.", "MX")] = ["20 backup.acme.com.", "10 MX1.acme.com."]

    assert server.resolver().mx("acme.com") == MxAnswer.found(["mx1.acme.com", "backup.acme.com"])


def test_a_null_mx_means_the_domain_accepts_no_mail(server: LoopbackDns) -> None:
    server.zone.records[("nomail.com.", "MX")] = ["0 ."]

    assert server.resolver().mx("nomail.com").status is MxStatus.NO_MAIL


def test_an_nxdomain_answer_means_there_is_no_such_domain(server: LoopbackDns) -> None:
    server.zone.nxdomain.add("acme-typo.com.")

    assert server.resolver().mx("acme-typo.com").status is MxStatus.NO_DOMAIN


def test_without_mx_a_public_address_record_makes_the_domain_its_own_exchanger(server: LoopbackDns) -> None:
    server.zone.records[("small.com.", "A")] = ["8.8.4.4"]
    server.zone.records[("six.com.", "AAAA")] = ["2001:4860:4860::8888"]

    assert server.resolver().mx("small.com") == MxAnswer.found(["small.com"])
    assert server.resolver().mx("six.com") == MxAnswer.found(["six.com"])
    assert ("small.com.", "MX") in server.zone.asked


def test_without_mx_a_private_address_or_no_address_at_all_means_no_mail(server: LoopbackDns) -> None:
    server.zone.records[("intranet.com.", "A")] = ["10.1.2.3"]

    assert server.resolver().mx("intranet.com").status is MxStatus.NO_MAIL
    assert server.resolver().mx("empty.com").status is MxStatus.NO_MAIL  # exists (NOERROR) with no records


def test_a_servfail_is_a_retry_later_not_a_verdict(server: LoopbackDns) -> None:
    server.zone.servfail.add("broken.com.")

    assert server.resolver().mx("broken.com").status is MxStatus.TIMEOUT


def test_a_server_that_never_answers_times_out_within_the_limit(server: LoopbackDns) -> None:
    server.zone.silent.add("slow.com.")

    started = time.monotonic()
    answer = server.resolver(timeout=0.3).mx("slow.com")

    assert answer.status is MxStatus.TIMEOUT
    assert time.monotonic() - started < 2


def test_a_unicode_domain_is_asked_in_its_a_label_form(server: LoopbackDns) -> None:
    server.zone.records[("xn--bcher-kva.de.", "MX")] = ["10 mx.xn--bcher-kva.de."]

    assert server.resolver().mx("Bücher.de") == MxAnswer.found(["mx.xn--bcher-kva.de"])


def test_text_that_cannot_be_a_domain_name_is_not_sent_to_dns(server: LoopbackDns) -> None:
    assert server.resolver().mx("a..b").status is MxStatus.NO_DOMAIN
    assert server.zone.asked == []


def test_a_machine_without_name_servers_says_retry_later_rather_than_raising() -> None:
    nothing = dns.resolver.Resolver(configure=False)
    nothing.nameservers = []

    assert DnsPythonResolver(timeout=0.2, resolver=nothing).mx("acme.com").status is MxStatus.TIMEOUT
