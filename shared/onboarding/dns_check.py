"""Where mail for a domain would go, asked of DNS (RFC 5321 section 5): the deliverability half of the AP
email rules (email_rules.py).

A lookup has five outcomes, and only two of them say anything about the address: the domain does not exist
(NXDOMAIN), or it exists but accepts no mail (a null MX "." per RFC 7505, or no MX and no A/AAAA record to
fall back on). A timeout or a failing name server (SERVFAIL) says nothing about the address, so it is its
own outcome: "ask again later". A resolver may also decline to look at all (the local system only knows the
demo's domains), which is "unchecked", never "no such domain".

`MxResolver` is what the rules depend on; `DnsPythonResolver` asks real DNS through dnspython and
`StubResolver` answers from a table, for tests and for `arcollect local`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import dns.resolver


class MxStatus(StrEnum):
    FOUND = "found"  # mail for the domain has somewhere to go: `hosts` says where
    NO_DOMAIN = "no_domain"  # NXDOMAIN: there is no such domain
    NO_MAIL = "no_mail"  # the domain exists but accepts no mail (null MX, or no MX and no A/AAAA)
    TIMEOUT = "timeout"  # no answer in time, SERVFAIL, no name server reachable: retry later
    UNCHECKED = "unchecked"  # the resolver did not look (a stub that does not know the domain)


@dataclass(frozen=True)
class MxAnswer:
    """One lookup's outcome. `hosts` (FOUND only) are the mail exchangers by preference, or the domain itself
    when it has no MX but an address record (the implicit MX). `detail` is for logs, not for clerks."""

    status: MxStatus
    hosts: list[str] = field(default_factory=list)
    detail: str = ""

    @classmethod
    def found(cls, hosts: Sequence[str]) -> MxAnswer:
        return cls(MxStatus.FOUND, list(hosts))

    @classmethod
    def no_domain(cls, detail: str = "NXDOMAIN") -> MxAnswer:
        return cls(MxStatus.NO_DOMAIN, detail=detail)

    @classmethod
    def no_mail(cls, detail: str) -> MxAnswer:
        return cls(MxStatus.NO_MAIL, detail=detail)

    @classmethod
    def timeout(cls, detail: str = "timeout") -> MxAnswer:
        return cls(MxStatus.TIMEOUT, detail=detail)

    @classmethod
    def unchecked(cls, detail: str = "not looked up") -> MxAnswer:
        return cls(MxStatus.UNCHECKED, detail=detail)


class MxResolver(Protocol):
    def mx(self, domain: str) -> MxAnswer:
        """Where mail for `domain` goes. Never raises: every failure is one of the MxStatus outcomes."""
        ...


def ascii_domain(domain: str) -> str:
    """The lower-case A-label (punycode) form DNS is asked in, without the final dot; ValueError when the
    text cannot be a domain name. email-validator's `ascii_domain` is already in this form."""
    import dns.exception
    import dns.name

    text = domain.strip().rstrip(".")
    if not text:
        raise ValueError("an empty domain name")
    try:
        name = dns.name.from_text(text, idna_codec=dns.name.IDNA_2008_Practical)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise ValueError(f"not a domain name: {exc}") from None
    return name.to_text(omit_final_dot=True).lower()


class DnsPythonResolver:
    """Real DNS through dnspython. `timeout` bounds each lookup (MX, then A and AAAA when there is no MX);
    `resolver` is a configured dnspython Resolver (default: the system's, from /etc/resolv.conf, made on
    the first lookup so that building this object never fails)."""

    def __init__(self, timeout: float = 5.0, *, resolver: dns.resolver.Resolver | None = None) -> None:
        self.timeout = timeout
        self._resolver = resolver

    def mx(self, domain: str) -> MxAnswer:
        import dns.exception
        import dns.name
        import dns.resolver

        try:
            qname = dns.name.from_text(ascii_domain(domain))
        except ValueError:
            return MxAnswer.no_domain("not a domain name")
        try:
            resolver = self._resolver if self._resolver is not None else dns.resolver.Resolver()
            self._resolver = resolver
            return self._lookup(resolver, qname)
        except dns.resolver.NXDOMAIN:
            return MxAnswer.no_domain()
        except dns.resolver.NoNameservers as exc:  # every server answered SERVFAIL/REFUSED or was unreachable
            return MxAnswer.timeout(f"no name server answered: {exc}")
        except dns.exception.Timeout:
            return MxAnswer.timeout(f"no answer within {self.timeout:g} s")
        except dns.resolver.NoResolverConfiguration:
            return MxAnswer.timeout("no name server is configured on this machine")
        except (dns.exception.DNSException, OSError) as exc:  # anything else says nothing about the address
            return MxAnswer.timeout(f"{type(exc).__name__}: {exc}")

    def _lookup(self, resolver: dns.resolver.Resolver, qname: dns.name.Name) -> MxAnswer:
        import dns.name
        import dns.resolver

        try:
            answer = resolver.resolve(qname, "MX", lifetime=self.timeout)
        except dns.resolver.NoAnswer:
            return self._implicit_mx(resolver, qname)
        records = sorted(answer, key=lambda r: (r.preference, r.exchange.to_text()))
        hosts = [r.exchange.to_text(omit_final_dot=True).lower() for r in records if r.exchange != dns.name.root]
        if not hosts:
            return MxAnswer.no_mail("null MX (RFC 7505)")
        return MxAnswer.found(hosts)

    def _implicit_mx(self, resolver: dns.resolver.Resolver, qname: dns.name.Name) -> MxAnswer:
        """No MX: an A or AAAA record makes the domain its own mail exchanger (RFC 5321 5.1), if the address
        is reachable from the internet (a private or loopback address is no fallback, as in email-validator)."""
        import dns.resolver

        for rdtype in ("A", "AAAA"):
            try:
                answer = resolver.resolve(qname, rdtype, lifetime=self.timeout)
            except dns.resolver.NoAnswer:
                continue
            if any(_is_global(r.address) for r in answer):
                return MxAnswer.found([qname.to_text(omit_final_dot=True).lower()])
        return MxAnswer.no_mail("no MX record and no A/AAAA record to fall back on")


def _is_global(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


class StubResolver:
    """Answers from a table instead of DNS: how tests and `arcollect local` control deliverability.

    - `domains` maps a domain to its MX hosts: `{"acme.com": ["mx.acme.com"]}` is deliverable; an empty
      list, or the null MX `["."]`, is a domain that exists but accepts no mail.
    - `timeouts` are domains whose lookup times out (the checks then say "retry later").
    - `unknown` is what any other domain gets: "no_domain" (the default: like real DNS, a name nobody
      registered does not exist, so the address is invalid) or "unchecked" (local mode: the stub only knows
      the demo's domains and says so rather than calling an address invalid).

    Domains match case-insensitively, with or without a final dot, in Unicode or A-label form; a subdomain
    of a listed domain is a different domain (DNS has no inheritance here).
    """

    def __init__(
        self,
        domains: Mapping[str, Sequence[str]] | None = None,
        *,
        timeouts: Iterable[str] = (),
        unknown: Literal["no_domain", "unchecked"] = "no_domain",
    ) -> None:
        if unknown not in ("no_domain", "unchecked"):
            raise ValueError(f"unknown must be 'no_domain' or 'unchecked', not {unknown!r}")
        self.domains = {
            ascii_domain(d): [h.strip().rstrip(".").lower() for h in hosts] for d, hosts in (domains or {}).items()
        }
        self.timeouts = frozenset(ascii_domain(d) for d in timeouts)
        self.unknown = unknown
        self.asked: list[str] = []  # every domain looked up, in order: lets a test see whether DNS was asked

    @classmethod
    def local_mode(cls, domains: Iterable[str]) -> StubResolver:
        """The local system's resolver: each of `domains` (the demo's) accepts mail at a stand-in exchanger
        `mx.<domain>`; any other domain is "unchecked"."""
        return cls({d: [f"mx.{ascii_domain(d)}"] for d in domains}, unknown="unchecked")

    def mx(self, domain: str) -> MxAnswer:
        try:
            name = ascii_domain(domain)
        except ValueError:
            return MxAnswer.no_domain("not a domain name")
        self.asked.append(name)
        if name in self.timeouts:
            return MxAnswer.timeout("stub: listed as timing out")
        hosts = self.domains.get(name)
        if hosts is None:
            if self.unknown == "unchecked":
                return MxAnswer.unchecked("stub: not one of the domains it knows")
            return MxAnswer.no_domain("stub: not one of the domains it knows")
        real = [h for h in hosts if h]
        if not real:
            return MxAnswer.no_mail("stub: null MX" if hosts else "stub: no mail exchanger")
        return MxAnswer.found(real)
