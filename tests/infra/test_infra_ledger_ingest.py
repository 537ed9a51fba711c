"""The drop bucket: encrypted, private, TLS-only, versioned, logged; `incoming/*.csv` reaches the function
through a queue with a dead-letter queue, so no file is lost."""

from __future__ import annotations

from synthesized_app import Synthesized

from shared.settings import RuntimeSettings, stage_names


def _ingest_bucket_id(synth: Synthesized) -> str:
    return str(synth.template["Outputs"]["IngestBucketName"]["Value"]["Ref"])


def test_ingest_bucket_is_kms_encrypted_private_versioned_and_logged(dev: Synthesized) -> None:
    properties = dev.resource(_ingest_bucket_id(dev))["Properties"]

    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    logs_bucket = properties["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert dev.resource(logs_bucket)["Type"] == "AWS::S3::Bucket"


def test_every_bucket_refuses_plain_http(dev: Synthesized) -> None:
    policies = {
        policy["Properties"]["Bucket"]["Ref"]: policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in dev.resources("AWS::S3::BucketPolicy").values()
    }
    for bucket_id in dev.resources("AWS::S3::Bucket"):
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policies[bucket_id]
        ), bucket_id


def test_only_incoming_csv_files_are_queued(dev: Synthesized) -> None:
    (notifications,) = dev.resources("Custom::S3BucketNotifications").values()
    (queued,) = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]

    assert notifications["Properties"]["BucketName"] == {"Ref": _ingest_bucket_id(dev)}
    assert queued["Events"] == ["s3:ObjectCreated:*"]
    rules = {rule["Name"]: rule["Value"] for rule in queued["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "incoming/", "suffix": ".csv"}


def test_queue_feeds_the_ingest_function_one_file_at_a_time_with_a_dead_letter_queue(dev: Synthesized) -> None:
    (mapping,) = [
        mapping
        for mapping in dev.resources("AWS::Lambda::EventSourceMapping").values()
        if mapping["Properties"]["FunctionName"] == {"Ref": dev.our_function_ids()["ledger_ingest"]}
    ]
    queue_id = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
    queue = dev.resource(queue_id)["Properties"]

    assert mapping["Properties"]["BatchSize"] == 1
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    dead_letter_id = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    ingest_timeout = dev.our_functions()["ledger_ingest"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * ingest_timeout

    alarms = [
        alarm["Properties"]
        for alarm in dev.resources("AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_id, "QueueName"]}}
        in alarm["Properties"].get("Dimensions", [])
    ]
    assert len(alarms) == 1 and alarms[0]["AlarmActions"]


def test_the_ingest_function_is_given_every_setting_it_stops_without(dev: Synthesized) -> None:
    variables = dev.our_functions()["ledger_ingest"]["Properties"]["Environment"]["Variables"]
    # Key ARNs are CloudFormation references here; what matters is that each variable is set.
    settings = RuntimeSettings.from_environment({name: str(value) for name, value in variables.items()})

    assert (settings.stage, settings.table_prefix) == ("dev", stage_names("dev").table_prefix)


def test_the_ingest_queues_are_named_as_the_local_system_names_them(dev: Synthesized) -> None:
    names = {queue["Properties"]["QueueName"] for queue in dev.resources("AWS::SQS::Queue").values()}

    assert {stage_names("dev").ledger_ingest_queue, stage_names("dev").ledger_ingest_dead_letter_queue} <= names
