"""Messaging as deployed: email through one SES configuration set whose bounces and complaints reach the
feedback function (SES → encrypted topic → queue), SMS through SNS to phone numbers only, and a retry queue
for failed sends; every queue has a dead-letter queue with an alarm, and every sender holds exactly the
permissions sending takes."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from synthesized_app import Grants, Synthesized, function_basics, table_grants

from infra.config import StageConfig
from shared.settings import stage_names

SES_ARN = "arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>"
SMS_ONLY: Grants = {
    ("Allow", "sns:Publish", "*"),
    ("Deny", "sns:Publish", "arn:<AWS::Partition>:sns:*:*:*"),
}
QUEUE_CONSUMER = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
)


def _sending_grants(function_name: str) -> Grants:
    """Dispatch and retry send the same way: the ledger re-read, the run tables written, letters and
    referrals put, email as the sender through our configuration set, SMS, the retry queue, the link key."""
    return (
        function_basics(function_name)
        | table_grants(["customers", "policy_sets", "payments", "credit_notes"], write=False)
        | table_grants(["invoices", "sends", "activities", "tasks", "dunning_batches", "dunning_runs"], write=True)
        | {("Allow", "s3:PutObject", f"bucket/documents/{prefix}/*") for prefix in ("letters", "agency")}
        | {
            ("Allow", action, f"{SES_ARN}:{resource}")
            for action in ("ses:SendEmail", "ses:SendRawEmail")
            for resource in (
                "identity/ar@example.com",
                "identity/example.com",
                "configuration-set/arcollect-dev-reminders",
            )
        }
        | SMS_ONLY
        | {
            ("Allow", "sqs:SendMessage", "queue/send-retry"),
            ("Allow", "secretsmanager:GetSecretValue", "secret/link-signing"),
        }
    )


def _queue_id(synth: Synthesized, name: str) -> str:
    (logical_id,) = [
        logical_id
        for logical_id, queue in synth.resources("AWS::SQS::Queue").items()
        if queue["Properties"]["QueueName"] == name
    ]
    return logical_id


def _role_of(synth: Synthesized, name: str) -> str:
    return synth.role_id(synth.our_functions()[name])


@pytest.mark.parametrize("name", ["dunning_dispatch", "dunning_send_retry"])
def test_senders_hold_exactly_what_sending_a_reminder_takes(dev: Synthesized, name: str) -> None:
    consumes_retries = {("Allow", action, "queue/send-retry") for action in QUEUE_CONSUMER}
    expected = _sending_grants(name) | (consumes_retries if name == "dunning_send_retry" else set())

    assert dev.grants(_role_of(dev, name)) == expected


def test_feedback_marks_the_address_and_falls_back_to_sms_or_the_retry_queue(dev: Synthesized) -> None:
    assert dev.grants(_role_of(dev, "email_feedback")) == (
        function_basics("email_feedback")
        | table_grants(["customers", "sends", "tasks", "activities", "invoices", "suppressions"], write=True)
        | {("Allow", action, "queue/email-feedback") for action in QUEUE_CONSUMER}
        | SMS_ONLY
        | {
            ("Allow", "sqs:SendMessage", "queue/send-retry"),
            ("Allow", "secretsmanager:GetSecretValue", "secret/link-signing"),
        }
    )


def test_the_configuration_set_requires_tls_and_reports_bounces_and_complaints_to_the_feedback_topic(
    stage: Synthesized,
) -> None:
    names = stage_names(stage.config.stage)
    ((set_id, configuration_set),) = stage.resources("AWS::SES::ConfigurationSet").items()
    (destination,) = stage.resources("AWS::SES::ConfigurationSetEventDestination").values()
    event_destination = destination["Properties"]["EventDestination"]

    assert configuration_set["Properties"]["Name"] == names.ses_configuration_set
    assert configuration_set["Properties"]["DeliveryOptions"] == {"TlsPolicy": "REQUIRE"}
    assert destination["Properties"]["ConfigurationSetName"] == {"Ref": set_id}
    assert sorted(event_destination["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert event_destination["Enabled"] is True
    topic = event_destination["SnsDestination"]["TopicARN"]
    assert stage.resource_label(topic) == "topic/email-feedback"


def _feedback_topic(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    ((logical_id, topic),) = [
        (logical_id, topic)
        for logical_id, topic in synth.resources("AWS::SNS::Topic").items()
        if topic["Properties"]["TopicName"] == stage_names(synth.config.stage).email_feedback_topic
    ]
    return logical_id, topic["Properties"]


def test_the_feedback_topic_has_a_rotating_key_ses_may_use_only_for_our_configuration_set(dev: Synthesized) -> None:
    _, topic = _feedback_topic(dev)
    key = dev.resource(topic["KmsMasterKeyId"]["Fn::GetAtt"][0])["Properties"]
    (for_ses,) = [
        statement
        for statement in key["KeyPolicy"]["Statement"]
        if statement["Principal"] == {"Service": "ses.amazonaws.com"}
    ]

    assert key["EnableKeyRotation"] is True
    assert set(for_ses["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert for_ses["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert dev.resource_label(for_ses["Condition"]["StringEquals"]["aws:SourceArn"]) == (
        f"{SES_ARN}:configuration-set/arcollect-dev-reminders"
    )


def test_ses_may_publish_to_the_feedback_topic_only_from_our_configuration_set(dev: Synthesized) -> None:
    topic_id, _ = _feedback_topic(dev)
    (policy,) = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in dev.resources("AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in policy["Properties"]["Topics"]
    ]
    (from_ses,) = [s for s in policy if s.get("Principal") == {"Service": "ses.amazonaws.com"}]

    assert (from_ses["Effect"], from_ses["Action"]) == ("Allow", "sns:Publish")
    assert "AWS:SourceArn" in from_ses["Condition"]["StringEquals"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)


def test_feedback_reaches_its_queue_as_sns_envelopes(dev: Synthesized) -> None:
    topic_id, _ = _feedback_topic(dev)
    (subscription,) = [
        s["Properties"]
        for s in dev.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic_id}
    ]

    assert subscription["Protocol"] == "sqs"
    assert subscription["RawMessageDelivery"] is False
    assert subscription["Endpoint"] == {"Fn::GetAtt": [_queue_id(dev, stage_names("dev").email_feedback_queue), "Arn"]}


@pytest.mark.parametrize(
    ("function", "queue", "dead_letters"),
    [
        ("dunning_send_retry", "send_retry_queue", "send_retry_dead_letter_queue"),
        ("email_feedback", "email_feedback_queue", "email_feedback_dead_letter_queue"),
    ],
)
def test_queue_feeds_its_function_ten_at_a_time_and_dead_letters_after_three_attempts_with_an_alarm(
    dev: Synthesized, function: str, queue: str, dead_letters: str
) -> None:
    names = stage_names("dev")
    queue_id = _queue_id(dev, getattr(names, queue))
    dead_letter_id = _queue_id(dev, getattr(names, dead_letters))
    properties = dev.resource(queue_id)["Properties"]
    (mapping,) = [
        m["Properties"]
        for m in dev.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    timeout = dev.our_functions()[function]["Properties"]["Timeout"]
    alarms = [
        alarm["Properties"]
        for alarm in dev.resources("AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_id, "QueueName"]}}
        in alarm["Properties"].get("Dimensions", [])
    ]

    assert mapping["FunctionName"] == {"Ref": dev.our_function_ids()[function]}
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dead_letter_id, "Arn"]},
        "maxReceiveCount": 3,
    }
    assert properties["VisibilityTimeout"] >= 6 * timeout
    assert properties["SqsManagedSseEnabled"] is True
    assert len(alarms) == 1 and alarms[0]["AlarmActions"]


def test_the_sender_seller_and_portal_come_from_context_with_defaults() -> None:
    given = App(context={"sender_email": "billing@acme.io", "seller_name": "Acme", "portal_url": "https://pay.acme.io"})
    config = StageConfig.from_context(given.node)
    defaults = StageConfig.from_context(App().node)

    assert (config.sender_email, config.sender_domain, config.seller_name, config.portal_url) == (
        "billing@acme.io",
        "acme.io",
        "Acme",
        "https://pay.acme.io",
    )
    assert (defaults.sender_email, defaults.seller_name, defaults.portal_url) == ("ar@example.com", "arcollect", None)


@pytest.mark.parametrize(
    "context",
    [{"sender_email": "not-an-address"}, {"sender_email": "ar@localhost"}, {"portal_url": "http://pay.acme.io"}],
)
def test_a_sender_that_is_no_address_or_a_portal_without_https_is_refused(context: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"sender_email|portal_url"):
        StageConfig.from_context(App(context=context).node)
