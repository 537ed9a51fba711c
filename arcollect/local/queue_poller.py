"""The SQS event source of the local system: moto has no poller, so this thread is one.

As Lambda's event source mapping does, it receives a batch, invokes the function with the SQS event,
deletes the messages that succeeded and leaves the rest to the queue: a message the function reported in
`batchItemFailures`, or every message of a batch whose invocation failed, comes back after a short delay
and, after the queue's maxReceiveCount receives, moves to its dead-letter queue (moto applies the redrive
policy on receive). One thread, one batch at a time; `stop` returns once the batch in hand is done.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

# (event) -> (the function's result, whether the invocation failed): LambdaRouter.invoke, decoded.
Invoke = Callable[[dict[str, Any]], tuple[Any, bool]]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands a function for a batch received from `queue_arn`."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def failed_message_ids(result: Any, failed: bool, message_ids: list[str]) -> set[str]:
    """Which messages of the batch to keep, by Lambda's ReportBatchItemFailures rules: all of them when the
    invocation failed or the reply names a message not in the batch; those named in `batchItemFailures`;
    none when the reply has no such list."""
    if failed:
        return set(message_ids)
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return set()
    named = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
    if not named <= set(message_ids):
        return set(message_ids)
    return {name for name in named if isinstance(name, str)}


class QueuePoller:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        invoke: Invoke,
        *,
        batch_size: int = 1,
        wait_seconds: int = 1,
        retry_after_seconds: int = 5,
    ):
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._region = region
        self._invoke = invoke
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds  # long polling: bounds how long `stop` waits for an idle poller
        self._retry_after_seconds = retry_after_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-queue-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                # The emulator going away mid-request while stopping, or a bug: never a dead poller.
                if not self._stop.is_set():
                    logger.exception("polling %s failed", self._queue_url)
                    self._stop.wait(self._retry_after_seconds)

    def poll_once(self) -> int:
        """Receive one batch and hand it to the function; returns how many messages were received."""
        received = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = received.get("Messages", [])
        if not messages:
            return 0
        result, failed = self._invoke(sqs_event(messages, self._queue_arn, self._region))
        keep = failed_message_ids(result, failed, [m["MessageId"] for m in messages])
        done = [m for m in messages if m["MessageId"] not in keep]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        for message in messages:
            if message["MessageId"] in keep:
                # Sooner than the queue's visibility timeout: locally nobody waits half an hour for a retry.
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_after_seconds,
                )
        if keep:
            logger.warning(
                "%d of %d messages from %s failed and will be retried", len(keep), len(messages), self._queue_url
            )
        return len(messages)


def router_invoke(router: Any, function_name: str, function_arn: str, timeout_seconds: int = 300) -> Invoke:
    """An `Invoke` that runs the function through the local Lambda router, as moto's invoke would."""

    def invoke(event: dict[str, Any]) -> tuple[Any, bool]:
        payload, failed = router.invoke(function_name, function_arn, json.dumps(event).encode(), timeout_seconds, 512)
        return json.loads(payload) if payload else None, failed

    return invoke
