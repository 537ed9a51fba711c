"""Delivering a claimed touch: an email through SES (HTML and text, every listed invoice's copy and an account
statement as PDFs, a personal portal link), an SMS through SNS, or a task on the worklist — a call, a letter to
mail (its PDF in S3), an agency referral (its CSV in S3).

The invoices are read again here, consistently, at send time: a line that was paid since the claim is left
out, and a message with nothing left to say is not sent at all (`NothingToSend`)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.data.tables import CustomerRecord, InvoiceRecord, SendRecord
from shared.documents.names import customer_name
from shared.dunning.dispatch import DeliveryError, NothingToSend, PolicySource
from shared.dunning.render import (
    MessageContext,
    MessageLine,
    known_templates,
    render_email,
    render_letter_text,
    render_sms,
)
from shared.dunning.repository import DunningStore
from shared.dunning.state import customer_phone, primary_contact
from shared.dunning.tasks import new_task
from shared.errors import DomainError
from shared.money import format_money
from shared.security.links import LinkSigner, load_signing_keys, portal_url, secrets_manager_fetch
from shared.settings import RuntimeSettings

if TYPE_CHECKING:  # the PDF code (fpdf2, fontTools, Pillow: ~1.5 s) loads only when a document is made
    from shared.documents.pdf import Party, StatementDocument

CUSTOMER_HEADER = "X-Arcollect-Customer-Id"
INVOICES_HEADER = "X-Arcollect-Invoice-Ids"
STEPS_HEADER = "X-Arcollect-Steps"
SEND_KEY_HEADER = "X-Arcollect-Send-Key"
SENT_AT_HEADER = "X-Arcollect-Sent-At"
LINK_PURPOSE = "portal"
SIGNING_KEYS_SECONDS = 300.0
STATEMENT_LINES = 500  # a statement lists at most this many open invoices (the portal has them all)


class Delivery:
    def __init__(
        self,
        settings: RuntimeSettings,
        client: Callable[[str], Any],
        store: DunningStore,
        policies: PolicySource | None = None,
        open_invoices: Callable[[str], Sequence[InvoiceRecord]] | None = None,
    ) -> None:
        self.settings = settings
        self._client = client
        self._clients: dict[str, Any] = {}
        self.store = store
        self.policies = policies
        self.open_invoices = open_invoices or _open_invoices
        self._signer: LinkSigner | None = None
        self._signer_at = -1e9

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._client(service)
        return self._clients[service]

    # --- the one entry point ------------------------------------------------------------------------------

    def deliver(self, send: SendRecord, customer: CustomerRecord, now: datetime) -> str | None:
        details = send.details or {}
        sent_at = datetime.fromisoformat(details["sent_at"]) if details.get("sent_at") else now
        day = date.fromisoformat(send.local_date) if send.local_date else sent_at.date()
        invoices = self.store.invoices(send.invoice_ids)
        steps = {i["invoice_id"]: i["step_id"] for i in details.get("items") or []}
        records = [invoices[i] for i in send.invoice_ids if i in invoices and int(invoices[i].balance_minor) > 0]
        if not records:
            raise NothingToSend(send.send_key)
        template = str(details.get("template") or _default_template(send.channel))
        try:
            if send.channel == "email":
                return self._email(send, customer, records, steps, template, day, sent_at)
            if send.channel == "sms":
                return self._sms(send, customer, records, steps, template, day, sent_at)
            return self._task(send, customer, records, steps, template, day, now)
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryError(f"{send.channel} could not be handed over: {type(exc).__name__}") from exc
        except DomainError as exc:  # a template the AR team wrote fails on this message
            raise DeliveryError(f"{send.channel} could not be rendered: {exc.message}") from exc

    # --- channels ----------------------------------------------------------------------------------------

    def _context(
        self,
        customer: CustomerRecord,
        records: Sequence[InvoiceRecord],
        steps: Mapping[str, str],
        template: str,
        day: date,
        link: str | None,
    ) -> MessageContext:
        lines = tuple(
            MessageLine(
                invoice_id=r.invoice_id,
                number=r.number,
                issue_date=date.fromisoformat(r.issue_date),
                due_date=date.fromisoformat(r.due_date),
                currency=r.currency,
                amount_minor=int(r.amount_minor),
                balance_minor=int(r.balance_minor),
                days_past_due=(day - date.fromisoformat(r.due_date)).days,
                step_id=steps.get(r.invoice_id, ""),
                po_number=r.po_number,
            )
            for r in records
        )
        return MessageContext(
            customer_id=customer.customer_id,
            customer_name=customer_name(customer),
            seller_name=self.settings.seller_name or "arcollect",
            as_of=day,
            template=template,
            lines=lines,
            portal_link=link,
            reply_to=self.settings.sender_email,
        )

    def _overrides(self) -> Mapping[str, str]:
        policy_file = self.policies() if self.policies is not None else None
        return policy_file.templates if policy_file is not None else {}

    def _link(self, customer_id: str, now: datetime) -> str | None:
        if not self.settings.link_secret_id or not self.settings.portal_url:
            return None
        if self._signer is None or time.monotonic() - self._signer_at > SIGNING_KEYS_SECONDS:
            keys = load_signing_keys(self.settings.link_secret_id, secrets_manager_fetch(self.client("secretsmanager")))
            self._signer = LinkSigner(keys)
            self._signer_at = time.monotonic()
        issued = self._signer.issue(customer_id, LINK_PURPOSE, now)
        return portal_url(self.settings.portal_url, issued.link_token)

    def _email(
        self,
        send: SendRecord,
        customer: CustomerRecord,
        records: Sequence[InvoiceRecord],
        steps: Mapping[str, str],
        template: str,
        day: date,
        sent_at: datetime,
    ) -> str:
        contact = primary_contact(customer)
        to = (contact.email if contact is not None else None) or customer.ap_email
        if not to:
            raise DeliveryError("the customer has no AP email address")
        if not self.settings.sender_email:
            raise DeliveryError("ARCOLLECT_SENDER_EMAIL is not set")
        from shared.documents.pdf import Party, invoice_file_name, invoice_pdf, statement_file_name, statement_pdf
        from shared.documents.records import invoice_document

        overrides = self._overrides()
        template = email_stage(template, records, day, overrides)
        context = self._context(customer, records, steps, template, day, self._link(customer.customer_id, sent_at))
        rendered = render_email(context, overrides)
        message = EmailMessage()
        message["From"] = formataddr((self.settings.seller_name or "Accounts receivable", self.settings.sender_email))
        message["To"] = to
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(sent_at.astimezone(UTC))
        message["Message-ID"] = make_msgid(domain=self.settings.sender_email.rpartition("@")[2] or None)
        message[CUSTOMER_HEADER] = customer.customer_id
        message[INVOICES_HEADER] = ",".join(r.invoice_id for r in records)
        message[STEPS_HEADER] = ",".join(dict.fromkeys(steps.get(r.invoice_id, "") for r in records))
        message[SEND_KEY_HEADER] = send.send_key
        message[SENT_AT_HEADER] = sent_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        seller = Party(self.settings.seller_name or "arcollect", email=self.settings.sender_email)
        buyer = Party(customer_name(customer), email=to)
        for record in records:
            document = invoice_document(record, seller, buyer, day)
            message.add_attachment(
                invoice_pdf(document),
                maintype="application",
                subtype="pdf",
                filename=invoice_file_name(record.number, record.invoice_id),
            )
        statement = self._statement(customer, seller, buyer, day)
        message.add_attachment(
            statement_pdf(statement), maintype="application", subtype="pdf", filename=statement_file_name(day)
        )
        request: dict[str, Any] = {"RawMessage": {"Data": message.as_bytes()}}
        if self.settings.ses_configuration_set:
            request["ConfigurationSetName"] = self.settings.ses_configuration_set
        response = self.client("ses").send_raw_email(**request)
        return str(response["MessageId"])

    def _statement(self, customer: CustomerRecord, seller: Party, buyer: Party, day: date) -> StatementDocument:
        from shared.documents.records import statement_document

        open_records = list(self.open_invoices(customer.customer_id))[:STATEMENT_LINES]
        return statement_document(customer, open_records, seller, buyer, day)

    def _sms(
        self,
        send: SendRecord,
        customer: CustomerRecord,
        records: Sequence[InvoiceRecord],
        steps: Mapping[str, str],
        template: str,
        day: date,
        sent_at: datetime,
    ) -> str:
        phone = customer_phone(customer)
        if not phone:
            raise DeliveryError("the customer has no phone number for SMS")
        context = self._context(customer, records, steps, template, day, self._link(customer.customer_id, sent_at))
        text = render_sms(context, self._overrides())
        response = self.client("sns").publish(
            PhoneNumber=phone,
            Message=text,
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )
        return str(response["MessageId"])

    def _task(
        self,
        send: SendRecord,
        customer: CustomerRecord,
        records: Sequence[InvoiceRecord],
        steps: Mapping[str, str],
        template: str,
        day: date,
        now: datetime,
    ) -> str | None:
        from shared.documents.pdf import Party, letter_pdf

        name = customer_name(customer)
        owed = _owed(records)
        ids = [r.invoice_id for r in records]
        if send.channel == "letter":
            key = f"letters/{day.isoformat()}/{_safe(customer.customer_id)}.pdf"
            context = self._context(customer, records, steps, template, day, self.settings.portal_url)
            seller = Party(self.settings.seller_name or "arcollect", email=self.settings.sender_email)
            pdf = letter_pdf(
                render_letter_text(context, self._overrides()),
                sender=seller,
                recipient=Party(name),
                as_of=day,
                customer_id=customer.customer_id,
                subject=f"Overdue account: {owed}",
            )
            self._put(key, pdf, "application/pdf")
            reason = f"Mail the letter s3://{self.settings.documents_bucket}/{key} to {name} ({owed})"
        elif send.channel == "agency":
            key = f"agency/{day.isoformat()}/{_safe(customer.customer_id)}.csv"
            self._put(key, _referral_csv(customer, records, day), "text/csv")
            reason = f"Refer {name} to the collection agency ({owed}): s3://{self.settings.documents_bucket}/{key}"
        else:
            phone = customer_phone(customer) or "no phone on file"
            reason = f"Call {name} ({phone}) about {owed}: {', '.join(dict.fromkeys(steps.values()))}"
        self.store.put_task(
            new_task(
                send.send_key,
                customer_id=customer.customer_id,
                kind=send.channel,
                invoice_ids=ids,
                due=day.isoformat(),
                reason=reason,
                now=now,
            )
        )
        return None

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        if not self.settings.documents_bucket:
            raise DeliveryError("ARCOLLECT_DOCUMENTS_BUCKET is not set")
        self.client("s3").put_object(
            Bucket=self.settings.documents_bucket, Key=key, Body=body, ContentType=content_type
        )


def email_stage(template: str, records: Sequence[InvoiceRecord], day: date, overrides: Mapping[str, str]) -> str:
    """The template an email goes out with. An SMS step sent as email (the customer has no phone) has no email
    form: the stage is then chosen by how late the most overdue listed invoice is."""
    forms = known_templates(overrides).get(template, frozenset())
    if "html" in forms and "txt" in forms:
        return template
    late = max((day - date.fromisoformat(r.due_date)).days for r in records)
    return "pre_due" if late < 0 else "due_today" if late == 0 else "past_due"


def _default_template(channel: str) -> str:
    return {"sms": "reminder_sms", "letter": "letter"}.get(channel, "past_due")


def _owed(records: Sequence[InvoiceRecord]) -> str:
    totals: dict[str, int] = {}
    for record in records:
        totals[record.currency] = totals.get(record.currency, 0) + int(record.balance_minor)
    return ", ".join(format_money(minor, currency) for currency, minor in sorted(totals.items()))


def _safe(value: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in value)[:100]


REFERRAL_COLUMNS = (
    "customer_id",
    "legal_name",
    "country",
    "invoice_id",
    "number",
    "due_date",
    "currency",
    "balance",
    "days_past_due",
)


def _referral_csv(customer: CustomerRecord, records: Sequence[InvoiceRecord], day: date) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "customer_id",
            "legal_name",
            "country",
            "invoice_id",
            "number",
            "due_date",
            "currency",
            "balance",
            "days_past_due",
        ]
    )
    for record in records:
        writer.writerow(
            [
                customer.customer_id,
                _csv_cell(customer.legal_name or ""),
                customer.country or "",
                record.invoice_id,
                _csv_cell(record.number or ""),
                record.due_date,
                record.currency,
                format_money(int(record.balance_minor), record.currency).split(" ")[0].replace(",", ""),
                (day - date.fromisoformat(record.due_date)).days,
            ]
        )
    return buffer.getvalue().encode()


def _csv_cell(value: str) -> str:
    """A spreadsheet must not run a cell as a formula (CSV injection)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _open_invoices(customer_id: str) -> list[InvoiceRecord]:
    return [
        r
        for r in InvoiceRecord.customer_invoices_index.query(
            customer_id, filter_condition=InvoiceRecord.status == "open"
        )
    ]


def build_deliverer(settings: RuntimeSettings, client: Callable[[str], Any], store: DunningStore) -> Delivery:
    from shared.dunning.service import CachedPolicies, _active_policy_file

    return Delivery(settings, client, store, CachedPolicies(_active_policy_file))
