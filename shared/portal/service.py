"""The portal's composition root: settings, clock, the link signer (keys from Secrets Manager through Powertools
`parameters`, both rotation stages, cached five minutes), the mailer of sign-in links and the TIN vault — built
once per Lambda container (or local process) from the environment, so handlers stay one line per route."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from functools import cache, cached_property
from typing import Any

from shared.data.tables import CustomerRecord
from shared.documents.names import customer_name
from shared.portal.access import PortalLink
from shared.security.links import LinkSigner, load_signing_keys, powertools_fetch
from shared.services import Services
from shared.settings import RuntimeSettings, SettingsError

SECRET_MAX_AGE = 300
CUSTOMER_HEADER = "X-Arcollect-Customer-Id"


def customer_message(
    settings: RuntimeSettings, customer: CustomerRecord, address: str, subject: str, now: datetime, what: str
) -> EmailMessage:
    """An email to one of a customer's addresses from the reminders' SES identity, under the seller's name, with
    the customer's id in a header (SES feedback names it back). `what` says what could not be sent without a
    sender."""
    if not settings.sender_email:
        raise SettingsError(f"ARCOLLECT_SENDER_EMAIL is not set: {what} cannot be emailed")
    message = EmailMessage()
    message["From"] = formataddr((settings.seller_name or "Accounts receivable", settings.sender_email))
    message["To"] = address
    message["Subject"] = subject
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = make_msgid(domain=settings.sender_email.rpartition("@")[2] or None)
    message[CUSTOMER_HEADER] = customer.customer_id
    return message


def send_raw(ses: Any, settings: RuntimeSettings, message: EmailMessage) -> None:
    """Sent as raw MIME (text and HTML kept) through the reminders' configuration set, so bounces come back."""
    request: dict[str, Any] = {"RawMessage": {"Data": message.as_bytes()}}
    if settings.ses_configuration_set:
        request["ConfigurationSetName"] = settings.ses_configuration_set
    ses.send_raw_email(**request)


@dataclass
class SesLinkMailer:
    """Sends the sign-in link a customer asked for, from the same SES identity as the reminders."""

    settings: RuntimeSettings
    ses: Any

    def send_link(self, customer: CustomerRecord, address: str, link: PortalLink, now: datetime) -> None:
        seller = self.settings.seller_name or "Accounts receivable"
        expires = link.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        name = customer_name(customer)
        subject = f"Your sign-in link to the {seller} customer portal"
        message = customer_message(self.settings, customer, address, subject, now, "sign-in links")
        message.set_content(
            f"Hello {name},\n\nSomeone (we hope you) asked for a link to sign in to your account with {seller}.\n"
            f"Open it to see your invoices and statement, leave a note, dispute or promise a payment:\n\n"
            f"{link.url}\n\nThe link works until {expires}. If you did not ask for it, ignore this email.\n"
        )
        message.add_alternative(
            f"<p>Hello {html.escape(name)},</p><p>Someone (we hope you) asked for a link to sign in to your account "
            f'with {html.escape(seller)}.</p><p><a href="{html.escape(link.url, quote=True)}">Sign in to the '
            f"customer portal</a></p><p>The link works until {html.escape(expires)}. If you did not ask for it, "
            "ignore this email.</p>",
            subtype="html",
        )
        send_raw(self.ses, self.settings, message)


@dataclass
class SqsLinkRequests:
    """The queue between `POST /portal/links` and the worker that emails the link."""

    sqs: Any
    url: str | None

    def enqueue(self, address: str, requested_at: datetime) -> None:
        if not self.url:
            raise SettingsError("ARCOLLECT_LINK_REQUEST_QUEUE_URL is not set: sign-in links cannot be requested")
        body = json.dumps({"email": address, "requested_at": requested_at.astimezone(UTC).isoformat()})
        self.sqs.send_message(QueueUrl=self.url, MessageBody=body)


@dataclass
class PortalServices(Services):
    @cached_property
    def _fetch(self) -> Any:
        return powertools_fetch(self.client("secretsmanager"), max_age=SECRET_MAX_AGE)

    @property
    def signer(self) -> LinkSigner:
        """A signer with the keys as Secrets Manager holds them now (Powertools caches them for five minutes)."""
        if not self.settings.link_secret_id:
            raise SettingsError("ARCOLLECT_LINK_SECRET_ID is not set: portal links cannot be signed or checked")
        return LinkSigner(load_signing_keys(self.settings.link_secret_id, self._fetch))

    @property
    def portal_url(self) -> str:
        if not self.settings.portal_url:
            raise SettingsError("ARCOLLECT_PORTAL_URL is not set: links cannot say where the portal is")
        return self.settings.portal_url

    @property
    def seller_name(self) -> str:
        return self.settings.seller_name or "arcollect"

    @cached_property
    def link_requests(self) -> SqsLinkRequests:
        return SqsLinkRequests(self.client("sqs"), self.settings.link_request_queue_url)

    @cached_property
    def mailer(self) -> SesLinkMailer:
        return SesLinkMailer(self.settings, self.client("ses"))

    @cached_property
    def vault(self) -> Any:
        from shared.security.tin_vault import KmsTinVault

        return KmsTinVault(
            kms=self.client("kms"), key_id=self.settings.tin_key_id, mac_key_id=self.settings.tin_mac_key_id
        )


@cache
def portal_services() -> PortalServices:
    """This process's portal services: settings read and tables bound once."""
    from shared.data.binding import bind_tables
    from shared.settings import runtime_settings

    settings = runtime_settings()
    bind_tables(settings.table_prefix, settings.region, settings.endpoint_url)
    return PortalServices(settings)
