"""The dunning run as deployed: the ASL file itself with every placeholder filled by a run function, started
hourly by EventBridge Scheduler, logged and traced, alarmed when it fails; each role holds exactly what its
part of the run needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from synthesized_app import ITEM_READS, Grants, Synthesized, function_basics, table_grants

from shared.settings import RuntimeSettings, stage_names

ASL_FILE = Path(__file__).resolve().parents[2] / "statemachines" / "dunning.asl.json"
RUN_FUNCTIONS = {
    "DunningPlanFunctionArn": "dunning_plan",
    "DunningDispatchFunctionArn": "dunning_dispatch",
    "DunningFinishFunctionArn": "dunning_finish",
}
ACCOUNT_ARN = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"


# Onboarding has a state machine and a schedule of its own: the run's are the ones with its names.
RUN_NAMES = {
    "AWS::StepFunctions::StateMachine": ("StateMachineName", "dunning_state_machine"),
    "AWS::Scheduler::Schedule": ("Name", "dunning_schedule"),
}


def _only(synth: Synthesized, resource_type: str) -> tuple[str, dict[str, Any]]:
    resources = list(synth.resources(resource_type).items())
    if resource_type in RUN_NAMES:
        key, name = RUN_NAMES[resource_type]
        expected = getattr(stage_names(synth.config.stage), name)
        resources = [(logical_id, r) for logical_id, r in resources if r["Properties"][key] == expected]
    ((logical_id, resource),) = resources
    return logical_id, resource["Properties"]


def _deployed_definition(synth: Synthesized) -> str:
    _, machine = _only(synth, "AWS::StepFunctions::StateMachine")
    return (synth.outdir / f"asset.{machine['DefinitionS3Location']['Key']}").read_text()


def _task_function_names(state: dict[str, Any]) -> list[str]:
    """FunctionName of every Lambda task, nested Map processors included."""
    found = []
    for inner in state.get("States", {}).values():
        found.extend(_task_function_names(inner))
        if inner.get("Resource") == "arn:aws:states:::lambda:invoke":
            found.append(inner["Parameters"]["FunctionName"])
        if "ItemProcessor" in inner:
            found.extend(_task_function_names(inner["ItemProcessor"]))
    return found


def test_the_state_machine_is_the_asl_file_itself(dev: Synthesized) -> None:
    assert _deployed_definition(dev) == ASL_FILE.read_text()


def test_every_placeholder_of_the_asl_is_filled_with_a_run_function(dev: Synthesized) -> None:
    _, machine = _only(dev, "AWS::StepFunctions::StateMachine")
    definition = _deployed_definition(dev)
    substitutions = machine["DefinitionSubstitutions"]
    function_ids = dev.our_function_ids()

    assert set(re.findall(r"\$\{(\w+)\}", definition)) == set(substitutions) == set(RUN_FUNCTIONS)
    assert substitutions == {
        placeholder: {"Fn::GetAtt": [function_ids[name], "Arn"]} for placeholder, name in RUN_FUNCTIONS.items()
    }
    # As CloudFormation will: nothing of the form ${...} is left, and each task calls a run function.
    filled = definition
    for placeholder, name in RUN_FUNCTIONS.items():
        filled = filled.replace(f"${{{placeholder}}}", f"arn:aws:lambda:eu-west-1:123456789012:function:{name}")
    assert "${" not in filled
    called = {arn.rsplit(":", 1)[1] for arn in _task_function_names(json.loads(filled))}
    assert called == set(RUN_FUNCTIONS.values())


def test_the_run_is_a_named_standard_machine_logged_without_execution_data_and_traced(stage: Synthesized) -> None:
    _, machine = _only(stage, "AWS::StepFunctions::StateMachine")
    logging = machine["LoggingConfiguration"]
    (destination,) = logging["Destinations"]
    log_group = stage.resource(destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0])

    assert machine["StateMachineName"] == stage_names(stage.config.stage).dunning_state_machine
    assert machine["StateMachineType"] == "STANDARD"
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", False)
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert log_group["Properties"]["LogGroupName"] == f"/aws/vendedlogs/states/{machine['StateMachineName']}"


def test_the_state_machine_may_call_its_functions_read_manifests_and_run_its_own_batches(dev: Synthesized) -> None:
    _, machine = _only(dev, "AWS::StepFunctions::StateMachine")
    role_id = machine["RoleArn"]["Fn::GetAtt"][0]
    log_delivery = {
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:DescribeLogGroups",
        "logs:DescribeResourcePolicies",
        "logs:GetLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:UpdateLogDelivery",
    }
    tracing = {"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"}

    assert dev.grants(role_id) == {
        *{("Allow", "lambda:InvokeFunction", f"function/{name.replace('_', '-')}") for name in RUN_FUNCTIONS.values()},
        ("Allow", "s3:GetObject", "bucket/documents/runs/*"),
        ("Allow", "kms:Decrypt", "key/data"),
        ("Allow", "states:StartExecution", f"{ACCOUNT_ARN}:stateMachine:arcollect-dev-dunning"),
        ("Allow", "states:DescribeExecution", f"{ACCOUNT_ARN}:execution:arcollect-dev-dunning/*"),
        ("Allow", "states:StopExecution", f"{ACCOUNT_ARN}:execution:arcollect-dev-dunning/*"),
        *{("Allow", action, "*") for action in log_delivery | tracing},
    }
    assert dev.resource(role_id)["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "states.amazonaws.com"
    }


def test_the_schedule_starts_the_run_every_hour_on_the_hour_in_utc(stage: Synthesized) -> None:
    names = stage_names(stage.config.stage)
    _, schedule = _only(stage, "AWS::Scheduler::Schedule")
    _, group = _only(stage, "AWS::Scheduler::ScheduleGroup")
    machine_id, _ = _only(stage, "AWS::StepFunctions::StateMachine")

    assert (schedule["Name"], schedule["GroupName"], group["Name"]) == (
        names.dunning_schedule,
        names.schedule_group,
        names.schedule_group,
    )
    assert schedule["ScheduleExpression"] == "cron(0 * * * ? *)"
    assert schedule.get("ScheduleExpressionTimezone", "UTC") in {"UTC", "Etc/UTC"}
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == {"Ref": machine_id}
    assert json.loads(schedule["Target"]["Input"]) == {"trigger": "schedule"}


def test_the_schedule_role_may_only_start_the_run(dev: Synthesized) -> None:
    _, schedule = _only(dev, "AWS::Scheduler::Schedule")
    role_id = schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]
    (trust,) = dev.resource(role_id)["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert dev.grants(role_id) == {("Allow", "states:StartExecution", "state-machine/dunning")}
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def _role_of(synth: Synthesized, name: str) -> str:
    return synth.role_id(synth.our_functions()[name])


def test_plan_reads_only_the_next_action_index_and_writes_the_run_and_its_manifest(dev: Synthesized) -> None:
    invoices_and_due_index = ("table/invoices", "table/invoices/index/next_action_index")

    assert dev.grants(_role_of(dev, "dunning_plan")) == function_basics("dunning_plan") | (
        {("Allow", action, resource) for action in ITEM_READS for resource in invoices_and_due_index}
        | table_grants(["dunning_runs"], write=True)
        | {("Allow", "s3:PutObject", "bucket/documents/runs/*"), ("Allow", "kms:GenerateDataKey", "key/data")}
    )


def test_finish_accounts_for_the_run_and_hands_unsent_claims_to_the_retry_queue(dev: Synthesized) -> None:
    expected: Grants = function_basics("dunning_finish") | table_grants(
        ["dunning_runs", "dunning_batches", "sends"], write=True
    )
    expected.add(("Allow", "sqs:SendMessage", "queue/send-retry"))

    assert dev.grants(_role_of(dev, "dunning_finish")) == expected


def test_run_functions_have_five_minutes_and_plan_and_dispatch_a_gigabyte(dev: Synthesized) -> None:
    functions = dev.our_functions()
    sizes = {name: functions[name]["Properties"].get("MemorySize", 128) for name in RUN_FUNCTIONS.values()}

    assert {functions[name]["Properties"]["Timeout"] for name in RUN_FUNCTIONS.values()} == {300}
    assert (sizes["dunning_plan"], sizes["dunning_dispatch"]) == (1024, 1024)


def test_run_functions_are_told_where_documents_go_how_to_send_and_where_failed_sends_wait(dev: Synthesized) -> None:
    names = stage_names("dev")
    variables = {
        name: dev.our_functions()[name]["Properties"]["Environment"]["Variables"] for name in RUN_FUNCTIONS.values()
    }
    dispatch = variables["dunning_dispatch"]
    (distribution,) = dev.resources("AWS::CloudFront::Distribution")

    assert dev.resource_label(variables["dunning_plan"]["ARCOLLECT_DOCUMENTS_BUCKET"]) == "bucket/documents"
    assert dev.resource_label(variables["dunning_finish"]["ARCOLLECT_SEND_RETRY_QUEUE_URL"]) == "queue/send-retry"
    assert dev.resource_label(dispatch["ARCOLLECT_LINK_SECRET_ID"]) == "secret/link-signing"
    assert (dispatch["ARCOLLECT_SENDER_EMAIL"], dispatch["ARCOLLECT_SELLER_NAME"]) == ("ar@example.com", "arcollect")
    assert dispatch["ARCOLLECT_SES_CONFIGURATION_SET"] == names.ses_configuration_set
    # No portal_url in context: links open the portal page behind CloudFront.
    assert dispatch["ARCOLLECT_PORTAL_URL"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution, "DomainName"]}]]
    }
    settings = RuntimeSettings.from_environment({name: str(value) for name, value in dispatch.items()})
    assert settings.sender_email == "ar@example.com"


def test_a_failed_run_raises_an_alarm(dev: Synthesized) -> None:
    machine_id, _ = _only(dev, "AWS::StepFunctions::StateMachine")
    alarms = [
        alarm["Properties"]
        for alarm in dev.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ExecutionsFailed"
        and {"Name": "StateMachineArn", "Value": {"Ref": machine_id}} in alarm["Properties"]["Dimensions"]
    ]

    assert len(alarms) == 1
    assert alarms[0]["Threshold"] == 1 and alarms[0]["AlarmActions"]


def test_the_link_signing_key_is_generated_as_64_letters_and_digits_under_its_key_id(stage: Synthesized) -> None:
    _, secret = _only(stage, "AWS::SecretsManager::Secret")

    assert secret["Name"] == stage_names(stage.config.stage).link_secret_name
    assert secret["GenerateSecretString"] == {
        "SecretStringTemplate": '{"kid":"k1"}',
        "GenerateStringKey": "key",
        "PasswordLength": 64,
        "ExcludePunctuation": True,
    }


def test_the_documents_bucket_is_encrypted_with_the_data_key_versioned_logged_and_keeps_manifests_a_month(
    stage: Synthesized,
) -> None:
    bucket_id = stage.template["Outputs"]["DocumentsBucketName"]["Value"]["Ref"]
    properties = stage.resource(bucket_id)["Properties"]
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    rules = {rule.get("Prefix"): rule for rule in properties["LifecycleConfiguration"]["Rules"]}

    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert stage.resource_label(encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == "key/data"
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["LoggingConfiguration"]["LogFilePrefix"] == "documents/"
    assert rules["runs/"]["ExpirationInDays"] == 30
    assert "ExpirationInDays" not in rules[None]  # letters and referrals are records: kept


def test_outputs_name_the_run_the_documents_and_the_feedback_topic(dev: Synthesized) -> None:
    outputs = dev.template["Outputs"]
    machine_id, _ = _only(dev, "AWS::StepFunctions::StateMachine")

    assert outputs["DunningStateMachineArn"]["Value"] == {"Ref": machine_id}
    assert dev.resource_label(outputs["DocumentsBucketName"]["Value"]) == "bucket/documents"
    assert dev.resource_label(outputs["EmailFeedbackTopicArn"]["Value"]) == "topic/email-feedback"
