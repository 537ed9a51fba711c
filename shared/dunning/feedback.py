"""SES feedback: a permanent bounce or a complaint on a reminder.

A hard bounce marks the contact's address bounced, re-opens onboarding for it (the AR team and the customer
see why) and falls back to the next channel for the same day's message: SMS when there is a phone, else a
call task (PRODUCT.md 1.3 rule 8). A complaint stops email to that address and re-opens onboarding, without a
fallback. Transient bounces are SES's to retry. Each notification is handled once: the fallback is claimed
like any message (customer·channel·day) and the activity key is the notification's own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from shared.data.tables import ActivityRecord, CustomerRecord, SendRecord
from shared.dunning.dispatch import Deliverer, DeliveryError, NothingToSend, cancel, mark_delivered, send_key
from shared.dunning.model import PlannedItem, PlannedTouch
from shared.dunning.planner import fallback_touch
from shared.dunning.repository import PENDING_SHARD, AlreadyClaimed, ChangedSinceRead, DunningStore
from shared.dunning.state import customer_state

SEND_KEY_TAG = "send_key"
SEND_KEY_HEADER = "X-Arcollect-Send-Key"


@dataclass(frozen=True)
class Feedback:
    kind: str  # bounce | complaint
    permanent: bool
    recipients: tuple[str, ...]
    send_key: str | None
    message_id: str | None
    feedback_id: str
    timestamp: str | None = None  # when SES says it happened


def parse_notification(notification: Mapping[str, Any]) -> Feedback | None:
    """An SES notification (identity notifications say `notificationType`, configuration-set events say
    `eventType`); None for what is not a bounce or a complaint."""
    kind = str(notification.get("notificationType") or notification.get("eventType") or "").lower()
    mail = notification.get("mail") or {}
    tags = mail.get("tags") or {}
    key = (tags.get(SEND_KEY_TAG) or [None])[0]
    if key is None:
        for header in mail.get("headers") or []:
            if str(header.get("name", "")).lower() == SEND_KEY_HEADER.lower():
                key = header.get("value")
    if kind == "bounce":
        bounce = notification.get("bounce") or {}
        recipients = tuple(str(r.get("emailAddress", "")).lower() for r in bounce.get("bouncedRecipients") or [])
        return Feedback(
            "bounce",
            bounce.get("bounceType") == "Permanent",
            recipients,
            key,
            mail.get("messageId"),
            str(bounce.get("feedbackId") or mail.get("messageId") or ""),
            bounce.get("timestamp"),
        )
    if kind == "complaint":
        complaint = notification.get("complaint") or {}
        recipients = tuple(str(r.get("emailAddress", "")).lower() for r in complaint.get("complainedRecipients") or [])
        return Feedback(
            "complaint",
            True,
            recipients,
            key,
            mail.get("messageId"),
            str(complaint.get("feedbackId") or mail.get("messageId") or ""),
            complaint.get("timestamp"),
        )
    return None


def touch_from_send(send: SendRecord) -> PlannedTouch:
    details = send.details or {}
    items = tuple(
        PlannedItem(
            invoice_id=i["invoice_id"],
            currency=i["currency"],
            balance_minor=int(i["balance_minor"]),
            step_id=i["step_id"],
            template=i.get("template"),
            final=bool(i.get("final")),
        )
        for i in details.get("items") or []
    )
    return PlannedTouch(
        customer_id=send.customer_id,
        channel=send.channel,  # type: ignore[arg-type]
        items=items,
        template=details.get("template"),
        fallback_from=details.get("fallback_from"),
    )


# Onboarding emails (invitations, verification links) carry "onboarding:<customer id>" as their send key.
ONBOARDING_KEY_PREFIX = "onboarding:"


class FeedbackHandler:
    """`suppress(address, kind, customer_id, now)` adds a permanently bounced or complaining address to
    arcollect's suppression list (onboarding refuses it as an AP address from then on)."""

    def __init__(
        self,
        store: DunningStore,
        deliverer: Deliverer,
        clock: Any,
        suppress: Callable[[str, str, str | None, datetime], None] | None = None,
    ) -> None:
        self.store = store
        self.deliverer = deliverer
        self.clock = clock
        self.suppress = suppress

    def handle(self, feedback: Feedback) -> str:
        if not feedback.permanent:
            return "transient"
        key = feedback.send_key or ""
        onboarding = key.startswith(ONBOARDING_KEY_PREFIX)
        send = self.store.send(key) if key and not onboarding else None
        customer_id = key[len(ONBOARDING_KEY_PREFIX) :] if onboarding else (send.customer_id if send else None)
        if self.suppress is not None:
            for address in feedback.recipients:
                if address:
                    self.suppress(address, feedback.kind, customer_id, self.clock())
        if customer_id is None:
            return "unknown_message"
        customer = self.store.customer(customer_id)
        if customer is None:
            return "unknown_customer"
        if not self._mark_contacts(customer, feedback):
            return "unknown_address"
        if feedback.kind != "bounce" or send is None or send.channel != "email":
            return "recorded"
        return self._fall_back(send, customer)

    def _mark_contacts(self, customer: CustomerRecord, feedback: Feedback) -> bool:
        for _ in range(3):
            state = "bounced" if feedback.kind == "bounce" else "complained"
            hit = changed = False
            for contact in customer.contacts or []:
                if contact.email and contact.email.lower() in feedback.recipients:
                    hit = True
                    changed = changed or contact.email_state != state
                    contact.email_state = state
            if not hit:
                return False
            reason = (
                "the AP email address bounced: give a working address"
                if feedback.kind == "bounce"
                else "the AP email address reported our reminder as spam: confirm the address"
            )
            if (
                not changed
                and customer.onboarding_status == "needs_attention"
                and reason in (customer.onboarding_reasons or [])
            ):
                return True  # this notification (or one like it) was handled already
            customer.onboarding_status = "needs_attention"
            customer.onboarding_reasons = list(dict.fromkeys([*(customer.onboarding_reasons or []), reason]))
            customer.updated_at = self.clock()
            if self.store.save_customer(customer):
                now = self.clock()
                # Keyed by the notification, not the clock: a second delivery of it writes the same entry.
                when = feedback.timestamp or now.astimezone(UTC).isoformat()
                self.store.put_activity(
                    ActivityRecord(
                        customer.customer_id,
                        f"{when}#{feedback.kind}#{feedback.feedback_id}",
                        kind="onboarding",
                        invoice_ids=[],
                        summary=f"Email {feedback.kind}: onboarding re-opened for the AP contact",
                        details={"kind": feedback.kind},
                        occurred_at=now,
                    )
                )
                return True
            fresh = self.store.customer(customer.customer_id)
            if fresh is None:
                return False
            customer = fresh
        return False

    def _fall_back(self, send: SendRecord, customer: CustomerRecord) -> str:
        touch = touch_from_send(send)
        day = date.fromisoformat(send.local_date) if send.local_date else self.clock().date()
        current = touch
        for _ in range(3):
            fallback = fallback_touch(current, customer_state(customer))
            if fallback is None:
                return "no_fallback"
            key = send_key(customer.customer_id, fallback.channel, day)
            details = dict(send.details or {})
            details["fallback_from"] = "email"
            details["sent_at"] = self.clock().astimezone(UTC).isoformat()
            claim = SendRecord(
                key,
                customer_id=customer.customer_id,
                channel=fallback.channel,
                invoice_ids=list(fallback.invoice_ids),
                steps=list(fallback.steps),
                status="claimed",
                run_id=send.run_id,
                local_date=day.isoformat(),
                details=details,
                pending_shard=PENDING_SHARD,
                created_at=self.clock(),
            )
            try:
                self.store.claim(claim, customer, [])
            except AlreadyClaimed:
                current = fallback  # that channel was used today already: the next one
                continue
            except ChangedSinceRead:
                fresh = self.store.customer(customer.customer_id)
                if fresh is None:
                    return "unknown_customer"
                customer = fresh
                continue
            try:
                message_id = self.deliverer.deliver(claim, customer, self.clock())
            except NothingToSend:
                cancel(claim, self.store)
                return "paid"
            except DeliveryError:
                return "fallback_pending"  # the claim stays pending: the next run's sweep retries it
            mark_delivered(claim, message_id, self.store, self.clock())
            return f"fallback_{fallback.channel}"
        return "no_fallback"
