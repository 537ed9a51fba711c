"""Tiny ledgers for the dunning workflow tests, imported the way `arcollect import` imports a real one: CSV text
through the ledger importer, on a fixed day (so the importer's stamps and first next-action dates are the ones
the run would see). Each test names only what it is about; the rest defaults to a plain US customer.

Also the few readings and seams the workflow tests share: the outbox as `arcollect outbox` shows it and the raw
emails moto's SES kept, portal links, a customer's claims, tasks and timeline, the retry and feedback queues
drained at once, a system of its own for a class of tests, and the system's time as a run reads it."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

from arcollect.local.dunning_resources import Queue
from arcollect.local.outbox import OutboxMessage, read_outbox
from arcollect.local.queue_poller import QueuePoller, router_invoke
from arcollect.local.system import sms_labels
from shared.clock import clock_for
from shared.data.tables import ActivityRecord, CustomerRecord, InvoiceRecord, SendRecord, TaskRecord
from shared.ledger.formats import COLUMNS, RecordKind
from shared.ledger.importer import build_importer
from shared.security.links import LinkClaims, LinkSigner, load_signing_keys, secrets_manager_fetch
from shared.settings import runtime_settings
from tests.workflows.conftest import STANDARD_POLICY, DunningSystem, start_dunning_system

TODAY = dt.date(2026, 3, 2)  # the fixture's today, a Monday


@dataclass(frozen=True)
class Customer:
    customer_id: str
    ap_email: str | None = None  # default: <customer_id>@example.com
    phone: str | None = None
    timezone: str = "America/New_York"
    country: str = "US"
    currency: str = "USD"

    def row(self) -> dict[str, str]:
        return {
            "customer_id": self.customer_id,
            "legal_name": f"{self.customer_id.title()} Ltd",
            "country": self.country,
            "ap_email": self.ap_email or f"{self.customer_id.lower()}@example.com",
            "phone": self.phone or "",
            "timezone": self.timezone,
            "currency": self.currency,
            "terms_days": "30",
        }


@dataclass(frozen=True)
class Invoice:
    invoice_id: str
    customer_id: str
    issue_date: dt.date
    due_date: dt.date
    amount: str = "100.00"
    currency: str = "USD"

    @property
    def number(self) -> str:
        return f"N-{self.invoice_id}"

    def row(self) -> dict[str, str]:
        return {
            "invoice_id": self.invoice_id,
            "customer_id": self.customer_id,
            "number": self.number,
            "issue_date": self.issue_date.isoformat(),
            "due_date": self.due_date.isoformat(),
            "currency": self.currency,
            "amount": self.amount,
        }


@dataclass(frozen=True)
class Payment:
    payment_id: str
    customer_id: str
    invoice_id: str
    paid_on: dt.date
    amount: str = "100.00"
    currency: str = "USD"

    def row(self) -> dict[str, str]:
        return {
            "payment_id": self.payment_id,
            "customer_id": self.customer_id,
            "invoice_id": self.invoice_id,
            "date": self.paid_on.isoformat(),
            "amount": self.amount,
            "currency": self.currency,
        }


def due_on(invoice_id: str, customer_id: str, due: dt.date, *, terms_days: int = 30, currency: str = "USD") -> Invoice:
    """An invoice of 100.00 issued `terms_days` before it falls due."""
    return Invoice(invoice_id, customer_id, due - dt.timedelta(days=terms_days), due, currency=currency)


def csv_bytes(kind: RecordKind, rows: Sequence[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS[kind]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def import_ledger(
    day: dt.date,
    customers: Sequence[Customer] = (),
    invoices: Sequence[Invoice] = (),
    payments: Sequence[Payment] = (),
) -> None:
    """Import the rows as of `day`; every row must land (a test ledger with a rejected row is a broken test)."""
    importer = build_importer(runtime_settings(), clock_for(day))
    files: tuple[tuple[RecordKind, list[dict[str, str]]], ...] = (
        ("customers", [c.row() for c in customers]),
        ("invoices", [i.row() for i in invoices]),
        ("payments", [p.row() for p in payments]),
    )
    for kind, rows in files:
        if rows:
            report = importer.import_file(kind, csv_bytes(kind, rows), source=f"test-{kind}.csv")
            assert report.ok, [str(p) for p in report.problems]


def policy_text(extra_policies: str = "", overrides: str = "") -> str:
    """The standard policy file with more policies (YAML list items, indented two spaces) and an `overrides:`
    section."""
    text = STANDARD_POLICY.read_text()
    if extra_policies:
        text = text.replace("\nsegments:\n", f"\n{extra_policies.rstrip()}\nsegments:\n", 1)
    return f"{text.rstrip()}\n{overrides}" if overrides else text


# --- stored records ------------------------------------------------------------------------------------


def invoice(invoice_id: str) -> InvoiceRecord:
    return InvoiceRecord.get(invoice_id, consistent_read=True)


def customer(customer_id: str) -> CustomerRecord:
    return CustomerRecord.get(customer_id, consistent_read=True)


def sends_of(customer_id: str) -> list[SendRecord]:
    """Every message or task claimed for the customer, in the order of the days they were for."""
    sends = [s for s in SendRecord.scan(consistent_read=True) if s.customer_id == customer_id]
    return sorted(sends, key=lambda s: (s.local_date or "", s.send_key))


def tasks_of(customer_id: str, kind: str | None = None) -> list[TaskRecord]:
    tasks = [t for t in TaskRecord.scan(consistent_read=True) if t.customer_id == customer_id]
    return [t for t in tasks if kind is None or t.kind == kind]


def activities_of(customer_id: str) -> list[ActivityRecord]:
    return list(ActivityRecord.query(customer_id, consistent_read=True))


# --- what was sent -------------------------------------------------------------------------------------


def outbox(system: DunningSystem) -> list[OutboxMessage]:
    """The outbox as `arcollect outbox` shows it: SMS labelled from their send records (customer, invoices,
    steps and the system's time of sending), which moto's SNS does not keep."""
    return read_outbox(system.emulator.deployment.region, labels=sms_labels())


def new_messages(system: DunningSystem, before: Sequence[OutboxMessage]) -> list[OutboxMessage]:
    """What was sent since `before` was read (the outbox is ordered by send time, not by arrival)."""
    seen = {m.message_id for m in before}
    return [m for m in outbox(system) if m.message_id not in seen]


def raw_emails(system: DunningSystem) -> list[EmailMessage]:
    """The MIME messages moto's SES kept, as sent (attachments included). PIN-SENSITIVE like outbox.py: moto's
    `sent_messages` is private API (moto 5.2.5)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID][system.emulator.deployment.region]
    messages = []
    for message in list(backend.sent_messages):
        parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


def attachments(message: EmailMessage) -> dict[str, bytes]:
    """File name → content of every attachment."""
    found: dict[str, bytes] = {}
    for part in message.iter_attachments():
        content: Any = part.get_content()
        found[str(part.get_filename())] = bytes(content)
    return found


def link_token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["link"][0]


def verify_link(system: DunningSystem, link: str, now: dt.datetime) -> LinkClaims:
    """The claims of a portal link, checked with the key the system keeps in Secrets Manager."""
    secret_id = runtime_settings().link_secret_id
    assert secret_id
    keys = load_signing_keys(secret_id, secrets_manager_fetch(system.emulator.client("secretsmanager")))
    return LinkSigner(keys).verify(link_token(link), "portal", now)


# --- seams -----------------------------------------------------------------------------------------------


@contextmanager
def fresh_system(today: dt.date = TODAY) -> Iterator[DunningSystem]:
    """A dunning system of its own, for a class-scoped scenario (several tests reading one set of runs)."""
    system, stop = start_dunning_system(today)
    try:
        yield system
    finally:
        stop()


class _PinnedClock:
    at = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.at


_pinned = _PinnedClock()


def pin_run_clock(instant: dt.datetime) -> None:
    """The system's time as the run's three steps read it (Plan: the run's instant; Dispatch: claims and tasks;
    Finish: which claims are old enough to sweep). The fixture's today has the wall clock's time of day, and
    what a run does in a customer's window depends on that time. Pin again to move the clock on."""
    from functions.dunning_dispatch import handler as dispatch
    from functions.dunning_finish import handler as finish
    from functions.dunning_plan import handler as plan

    _pinned.at = instant
    for module in (plan, dispatch, finish):
        module.services().clock = _pinned


def drain_now(system: DunningSystem, name: str, rounds: int = 30) -> int:
    """Poll the retry or feedback queue until it is empty, a failed message coming back at once (the system's
    poller waits a few seconds first, as a visibility timeout would). Returns how many receives it took."""
    queue = _queue(system, name)
    function_name = system.router.function_name(name)
    invoke = router_invoke(system.router, function_name, system.arns[function_name])
    sqs = system.emulator.client("sqs")
    poller = QueuePoller(sqs, queue.url, queue.arn, system.emulator.deployment.region, invoke, retry_after_seconds=0)
    received = 0
    for _ in range(rounds):
        got = poller.poll_once()
        if not got:
            return received
        received += got
    raise AssertionError(f"the {name} queue was not empty after {rounds} receives")


def queued(system: DunningSystem, name: str) -> int:
    """How many messages wait in the retry or feedback queue (read without receiving them: a receive counts
    towards a message's attempts)."""
    sqs = system.emulator.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=_queue(system, name).url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _queue(system: DunningSystem, name: str) -> Queue:
    return system.resources.send_retry if name == "dunning_send_retry" else system.resources.email_feedback
