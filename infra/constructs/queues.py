"""The one shape of every work queue here: SQS-managed encryption (S3 and SNS can publish without a key policy),
TLS only, and a dead-letter queue kept 14 days that people inspect and redrive by hand, with an alarm. The
constructs that own a queue call these, in their own scope, so each queue keeps its construct id."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge

DEAD_LETTER_RETENTION = Duration.days(14)


def dead_letter_queue(
    scope: Construct, construct_id: str, queue_name: str, *, of: str, removal_policy: RemovalPolicy
) -> sqs.Queue:
    """Where a message goes after its last attempt; `of` names the queue it serves (for the nag reason)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
        removal_policy=removal_policy,
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        reason=f"This is the dead-letter queue of the {of} queue; an alarm calls someone, who inspects and "
        "redrives its messages by hand.",
    )
    return queue


def work_queue(
    scope: Construct,
    construct_id: str,
    queue_name: str,
    *,
    visibility: Duration,
    retention: Duration,
    dead_letters: sqs.IQueue,
    attempts: int,
    removal_policy: RemovalPolicy,
) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility,
        retention_period=retention,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=attempts),
        removal_policy=removal_policy,
    )
