"""What the local system "sent": the emails moto's SES kept and the SMS moto's SNS kept, read from the
emulator's in-process backends and described as `arcollect outbox --json` prints them (INTERFACES.md).

Senders label a message for the outbox with MIME headers on raw emails (moto keeps no SES tags):
`X-Arcollect-Customer-Id`, `X-Arcollect-Invoice-Ids` and `X-Arcollect-Steps` (comma-separated lists).

PIN-SENSITIVE: `ses_backends[...].sent_messages`, `sns_backends[...].sms_messages` and moto's message
classes are private moto API (checked against moto 5.2.5). moto records no send time, so
`start_recording` swaps those two containers for subclasses that stamp each message as it is stored.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

CUSTOMER_HEADER = "X-Arcollect-Customer-Id"
INVOICES_HEADER = "X-Arcollect-Invoice-Ids"
STEPS_HEADER = "X-Arcollect-Steps"
# The system's time of sending (under `--today` / `--as-of`, that day), which the outbox shows as `sent_at`.
SENT_AT_HEADER = "X-Arcollect-Sent-At"

_URL = re.compile(r"https?://[^\s<>\"')\]]+")


@dataclass
class OutboxMessage:
    channel: str  # "email" | "sms"
    to: str  # the first recipient (an address or an E.164 number); the rest are in `cc`
    subject: str | None
    body_text: str
    attachments: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    customer_id: str | None = None
    invoice_ids: list[str] | None = None
    steps: list[str] | None = None
    sent_at: str | None = None
    cc: list[str] = field(default_factory=list)
    message_id: str | None = None

    def recipients(self) -> list[str]:
        return [self.to, *self.cc]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- send times ----------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return _iso(datetime.now(UTC))


EmailListener = Callable[[Any], None]


class _StampedMessageList(list[Any]):
    """SES's `sent_messages`, remembering when each message was appended and telling the listeners (the local
    mailbox simulator) about it."""

    def __init__(self, existing: list[Any]):
        super().__init__(existing)
        self.sent_at: dict[int, str] = {}
        self.listeners: list[EmailListener] = []

    def append(self, message: Any) -> None:
        self.sent_at[id(message)] = _now()
        super().append(message)
        for listener in list(self.listeners):
            try:
                listener(message)
            except Exception:  # a listener must never fail the send itself
                logging.getLogger(__name__).exception("an outbox listener failed")


class _StampedSmsDict(OrderedDict[str, Any]):
    """SNS's `sms_messages` (message id → (number, text)), remembering when each was stored."""

    def __init__(self, existing: dict[str, Any]):
        super().__init__(existing)
        self.sent_at: dict[str, str] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.sent_at[key] = _now()
        super().__setitem__(key, value)


def _ses_backend(account_id: str, region: str) -> Any:
    from moto.ses.models import ses_backends

    return ses_backends[account_id][region]


def _sns_backend(account_id: str, region: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account_id][region]


def _default_account() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return str(DEFAULT_ACCOUNT_ID)


def start_recording(region: str, account_id: str | None = None, on_email: EmailListener | None = None) -> None:
    """Stamp every message sent from now on with its send time; `on_email` hears of every email stored."""
    account = account_id or _default_account()
    ses = _ses_backend(account, region)
    if not isinstance(ses.sent_messages, _StampedMessageList):
        ses.sent_messages = _StampedMessageList(ses.sent_messages)
    if on_email is not None:
        ses.sent_messages.listeners.append(on_email)
    sns = _sns_backend(account, region)
    if not isinstance(sns.sms_messages, _StampedSmsDict):
        sns.sms_messages = _StampedSmsDict(sns.sms_messages)


# --- reading messages ----------------------------------------------------------------------------------


class _HtmlText(HTMLParser):
    """Visible text and link targets of an HTML body."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "a":
            href = dict(attrs).get("href")
            if href and href.startswith(("http://", "https://")):
                self.links.append(href)
        if tag in ("br", "p", "div", "tr", "li", "h1", "h2", "h3"):
            self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _looks_like_html(text: str) -> bool:
    return bool(re.search(r"<(html|body|p|a|div|br|table)\b", text, re.IGNORECASE))


def _text_and_links(text: str, html: str | None) -> tuple[str, list[str]]:
    links: list[str] = []
    if html is not None:
        parser = _HtmlText()
        parser.feed(html)
        links.extend(parser.links)
        if not text:
            text = re.sub(r"\n\s*\n+", "\n\n", "".join(parser.text)).strip()
    links.extend(_URL.findall(text))
    return text, list(dict.fromkeys(link.rstrip(".,;:") for link in links))


def _bare_addresses(values: list[str]) -> list[str]:
    return [address for _, address in getaddresses(values) if address]


def _split_header(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _from_raw(raw_data: str, destinations: list[str]) -> dict[str, Any]:
    mime = email.message_from_string(raw_data, policy=email.policy.default)
    assert isinstance(mime, EmailMessage)
    plain, html, attachments = "", None, []
    for part in mime.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            attachments.append(filename or "attachment")
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain" and not plain:
            plain = str(part.get_content())
        elif content_type == "text/html" and html is None:
            html = str(part.get_content())
    body_text, links = _text_and_links(plain.strip(), html)
    to = _bare_addresses(mime.get_all("To", []))
    others = [a for a in _bare_addresses(destinations) + _bare_addresses(mime.get_all("Cc", [])) if a not in to]
    date_header = mime.get("Date")
    return {
        "recipients": list(dict.fromkeys(to + others)),
        "subject": str(mime.get("Subject", "")) or None,
        "body_text": body_text,
        "links": links,
        "attachments": attachments,
        "customer_id": (str(mime[CUSTOMER_HEADER]).strip() or None) if CUSTOMER_HEADER in mime else None,
        "invoice_ids": _split_header(mime.get(INVOICES_HEADER)),
        "steps": _split_header(mime.get(STEPS_HEADER)),
        "date": _iso(parsedate_to_datetime(str(date_header))) if date_header else None,
        "sent_at": str(mime[SENT_AT_HEADER]).strip() if SENT_AT_HEADER in mime else None,
    }


def _destination_list(destinations: Any) -> list[str]:
    if isinstance(destinations, dict):
        values = [
            *destinations.get("ToAddresses", []),
            *destinations.get("CcAddresses", []),
            *destinations.get("BccAddresses", []),
        ]
        return _bare_addresses(values)
    return _bare_addresses(list(destinations or []))


def _email_message(message: Any, sent_at: str | None) -> OutboxMessage:
    kind = type(message).__name__
    if kind == "RawMessage":
        parsed = _from_raw(message.raw_data, list(message.destinations))
        recipients = parsed["recipients"] or [""]
        return OutboxMessage(
            channel="email",
            to=recipients[0],
            cc=recipients[1:],
            subject=parsed["subject"],
            body_text=parsed["body_text"],
            attachments=parsed["attachments"],
            links=parsed["links"],
            customer_id=parsed["customer_id"],
            invoice_ids=parsed["invoice_ids"],
            steps=parsed["steps"],
            sent_at=parsed["sent_at"] or sent_at or parsed["date"],
            message_id=message.id,
        )
    recipients = _destination_list(message.destinations) or [""]
    if kind == "Message":
        body = message.body or ""
        html = body if _looks_like_html(body) else None
        body_text, links = _text_and_links("" if html else body, html)
        subject = message.subject
    else:  # TemplateMessage: moto keeps the template's name and data, not the rendered email
        body_text, links = _text_and_links(str(message.template_data or ""), None)
        subject = f"[template {message.template}]"
    return OutboxMessage(
        channel="email",
        to=recipients[0],
        cc=recipients[1:],
        subject=subject,
        body_text=body_text,
        links=links,
        sent_at=sent_at,
        message_id=getattr(message, "id", None),
    )


def _sms_message(message_id: str, number: str, text: str, sent_at: str | None) -> OutboxMessage:
    body_text, links = _text_and_links(text, None)
    return OutboxMessage(
        channel="sms",
        to=number,
        subject=None,
        body_text=body_text,
        links=links,
        sent_at=sent_at,
        message_id=message_id,
    )


def read_outbox(
    region: str,
    account_id: str | None = None,
    to: str | None = None,
    labels: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[OutboxMessage]:
    """Every email and SMS sent so far, oldest first; `to` keeps those addressed to that recipient. `labels`
    (message id → customer_id, invoice_ids, steps, sent_at) labels the SMS, which carry no headers."""
    account = account_id or _default_account()
    ses = _ses_backend(account, region)
    sns = _sns_backend(account, region)
    sent = list(ses.sent_messages)
    email_stamps = getattr(ses.sent_messages, "sent_at", {})
    messages = [_email_message(m, email_stamps.get(id(m))) for m in sent]
    sms_stamps = getattr(sns.sms_messages, "sent_at", {})
    for message_id, (number, text) in list(sns.sms_messages.items()):
        sms = _sms_message(message_id, number, text, sms_stamps.get(message_id))
        label = (labels or {}).get(message_id)
        if label:
            sms.customer_id = label.get("customer_id")
            sms.invoice_ids = list(label.get("invoice_ids") or []) or None
            sms.steps = list(label.get("steps") or []) or None
            sms.sent_at = label.get("sent_at") or sms.sent_at
        messages.append(sms)
    # Unstamped messages (sent before recording started) keep their place ahead of the stamped ones.
    messages.sort(key=lambda m: m.sent_at or "")
    if to:
        wanted = to.strip().lower()
        messages = [m for m in messages if wanted in (r.lower() for r in m.recipients())]
    return messages
