"""AP email address checks that need no network: syntax and normalisation (email-validator), no-reply
mailboxes, and whether the address looks like a department mailbox. DNS deliverability and the
verification click are later onboarding steps."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.errors import ValidationError

DEPARTMENT_MAILBOXES = frozenset(
    {
        "ap",
        "accountspayable",
        "accounts.payable",
        "accounts-payable",
        "payables",
        "invoices",
        "invoice",
        "billing",
        "finance",
        "accounting",
    }
)
NO_REPLY_MAILBOXES = frozenset({"noreply", "no-reply", "donotreply", "do-not-reply", "no_reply", "mailer-daemon"})


@dataclass(frozen=True)
class EmailCheck:
    normalised: str
    warnings: list[str] = field(default_factory=list)


def check_ap_email_offline(address: str) -> EmailCheck:
    """Normalised AP address with warnings; ValidationError with the reason when it cannot be used."""
    # Imported here: email-validator compiles its patterns at import, a cost only customer rows need.
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"ap_email: {address!r} is not a valid address: {exc}") from exc
    local = result.local_part.lower()
    if local in NO_REPLY_MAILBOXES:
        raise ValidationError(f"ap_email: {result.normalized} is a no-reply mailbox and cannot receive reminders")
    warnings = []
    if local not in DEPARTMENT_MAILBOXES:
        warnings.append("a personal address: a department mailbox such as ap@ survives staff changes")
    # Lower-cased whole: AP mailboxes are case-insensitive in practice, and the address is a lookup key.
    return EmailCheck(normalised=result.normalized.lower(), warnings=warnings)
