"""SES's mailbox simulator, locally: moto accepts every email and its configuration sets never emit events
(LOCAL-AWS.md), so nothing would ever bounce. This listener watches the emails the emulator stores and, for
SES's own simulator addresses, publishes to the feedback topic the notification SES publishes in AWS:

- `bounce@simulator.amazonses.com` (and `bounce+label@…`): a permanent bounce;
- `complaint@simulator.amazonses.com` (and `complaint+label@…`): a complaint.

The same addresses bounce in AWS, so a test or a demo customer behaves alike in both. The notification goes
out on its own thread: the listener runs inside the emulator's request and must not call the emulator back."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

SIMULATOR_DOMAIN = "simulator.amazonses.com"

Publish = Callable[[str], None]


def simulated_outcome(address: str) -> str | None:
    """ "bounce", "complaint" or None for an address."""
    local, _, domain = address.strip().lower().rpartition("@")
    if domain != SIMULATOR_DOMAIN:
        return None
    kind = local.split("+", 1)[0]
    return kind if kind in ("bounce", "complaint") else None


def notification(
    kind: str, recipients: list[str], message_id: str, source: str, headers: list[dict[str, str]]
) -> dict[str, Any]:
    """The SES notification body (identity/configuration-set feedback) for `kind` on `recipients`."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    tags = {
        h["name"][len("X-Arcollect-") :].lower().replace("-", "_"): [h["value"]]
        for h in headers
        if h["name"].lower() == "x-arcollect-send-key"
    }
    mail = {
        "timestamp": now,
        "messageId": message_id,
        "source": source,
        "destination": recipients,
        "headersTruncated": False,
        "headers": headers,
        "tags": tags,
    }
    feedback_id = str(uuid.uuid4())
    if kind == "bounce":
        return {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": r,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                    for r in recipients
                ],
                "timestamp": now,
                "feedbackId": feedback_id,
            },
            "mail": mail,
        }
    return {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": r} for r in recipients],
            "timestamp": now,
            "feedbackId": feedback_id,
            "complaintFeedbackType": "abuse",
        },
        "mail": mail,
    }


class MailboxSimulator:
    """An outbox listener (arcollect/local/outbox.py `start_recording(on_email=...)`)."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    def __call__(self, message: Any) -> None:
        raw = getattr(message, "raw_data", None)
        if raw is None:
            return
        mime = email.message_from_string(raw, policy=email.policy.default)
        recipients = [a for _, a in getaddresses([*mime.get_all("To", []), *mime.get_all("Cc", [])]) if a]
        recipients += [a for a in getattr(message, "destinations", []) or [] if a not in recipients]
        by_kind: dict[str, list[str]] = {}
        for address in recipients:
            kind = simulated_outcome(address)
            if kind:
                by_kind.setdefault(kind, []).append(address.lower())
        if not by_kind:
            return
        headers = [{"name": k, "value": str(v)} for k, v in mime.items()]
        source = getattr(message, "source", None) or str(mime.get("From", ""))
        for kind, addresses in by_kind.items():
            body = json.dumps(notification(kind, addresses, str(message.id), source, headers))
            threading.Thread(target=self._publish, args=(body,), name="ses-feedback", daemon=True).start()


def topic_publisher(sns: Any, topic_arn: str) -> Publish:
    def publish(body: str) -> None:
        sns.publish(TopicArn=topic_arn, Message=body)

    return publish
