"""Create, in the emulator, what CDK's Dunning and Messaging constructs create in an account: the documents
bucket, the send-retry queue, the sign-in link request queue and the email-feedback topic and queue (each with its
dead-letter queue), the SES
configuration set, the link-signing secret, the dunning and onboarding state machines from the very ASL files CDK
deploys, and their hourly schedules (moto stores them and never fires them: arcollect/local/scheduler.py does).

Each step creates only what is missing, so a system restarted on its saved data keeps its own secret (the
portal links it signed stay valid) and its queues."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arcollect.local.deployment import LocalDeployment
from arcollect.local.provisioning import provision_ingest_bucket

REPO_ROOT = Path(__file__).resolve().parents[2]
DUNNING_ASL = REPO_ROOT / "statemachines" / "dunning.asl.json"
ONBOARDING_ASL = REPO_ROOT / "statemachines" / "onboarding.asl.json"
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
# As infra: a message stays hidden longer than a retry attempt takes; three attempts, then the DLQ.
SEND_RETRY_VISIBILITY_S = 360
SEND_RETRY_ATTEMPTS = 3
FEEDBACK_VISIBILITY_S = 120
LINK_REQUEST_VISIBILITY_S = 60
HOURLY = "cron(0 * * * ? *)"
SCHEDULE_INPUT = {"trigger": "schedule"}


def substitute(definition: str, values: dict[str, str]) -> str:
    """`${Name}` placeholders replaced as CDK's definition_substitutions does (a regex: ASL's own `$` paths make
    string.Template unusable). A placeholder without a value is an error, never left in."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"the state machine definition needs ${{{name}}}, which nothing provides")
        return values[name]

    return _PLACEHOLDER.sub(value, definition)


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str


@dataclass(frozen=True)
class DunningResources:
    state_machine_arn: str
    send_retry: Queue
    email_feedback: Queue
    link_requests: Queue
    feedback_topic_arn: str
    schedule_group: str
    onboarding_state_machine_arn: str = ""


def _queue(sqs: Any, name: str, dead_letter_name: str, visibility: int, attempts: int) -> Queue:
    dead_letters = sqs.create_queue(QueueName=dead_letter_name)["QueueUrl"]
    dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": attempts}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Queue(url=url, arn=arn)


def _ensure_secret(secrets: Any, name: str) -> None:
    from shared.security.links import new_secret_value

    try:
        secrets.describe_secret(SecretId=name)
    except secrets.exceptions.ResourceNotFoundException:
        secrets.create_secret(Name=name, SecretString=new_secret_value("k1"), Description="arcollect portal links")


def _ensure_configuration_set(ses: Any, name: str) -> None:
    existing = {c["Name"] for c in ses.list_configuration_sets().get("ConfigurationSets", [])}
    if name not in existing:
        ses.create_configuration_set(ConfigurationSet={"Name": name})


def _ensure_state_machine(sfn: Any, name: str, definition: str, role_arn: str) -> str:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=definition)
                return str(machine["stateMachineArn"])
    return str(sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)["stateMachineArn"])


def _ensure_schedule(
    scheduler: Any, group: str, name: str, target_arn: str, role_arn: str, payload: dict[str, Any] = SCHEDULE_INPUT
) -> None:
    groups = {g["Name"] for g in scheduler.list_schedule_groups().get("ScheduleGroups", [])}
    if group not in groups:
        scheduler.create_schedule_group(Name=group)
    try:
        scheduler.get_schedule(GroupName=group, Name=name)
        return
    except scheduler.exceptions.ResourceNotFoundException:
        pass
    scheduler.create_schedule(
        GroupName=group,
        Name=name,
        ScheduleExpression=HOURLY,
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": target_arn, "RoleArn": role_arn, "Input": json.dumps(payload)},
        State="ENABLED",
    )


def provision_dunning(client: Any, deployment: LocalDeployment, function_arn: Callable[[str], str]) -> DunningResources:
    """`client(service)` gives a boto3 client on the emulator; `function_arn(logical_name)` the ARN of a function
    the router created (LambdaRouter.provision)."""
    names = deployment.names
    provision_ingest_bucket(client("s3"), deployment.documents_bucket, deployment.region)
    sqs = client("sqs")
    send_retry = _queue(
        sqs, names.send_retry_queue, names.send_retry_dead_letter_queue, SEND_RETRY_VISIBILITY_S, SEND_RETRY_ATTEMPTS
    )
    feedback = _queue(sqs, names.email_feedback_queue, names.email_feedback_dead_letter_queue, FEEDBACK_VISIBILITY_S, 3)
    link_requests = _queue(
        sqs, names.link_request_queue, names.link_request_dead_letter_queue, LINK_REQUEST_VISIBILITY_S, 3
    )
    sns = client("sns")
    topic_arn = str(sns.create_topic(Name=names.email_feedback_topic)["TopicArn"])
    subscribed = {s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])}
    if feedback.arn not in subscribed:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=feedback.arn)
    _ensure_configuration_set(client("ses"), names.ses_configuration_set)
    _ensure_secret(client("secretsmanager"), names.link_secret_name)

    plan_arn = function_arn("dunning_plan")
    role_arn = f"arn:aws:iam::{plan_arn.split(':')[4]}:role/{names.prefix}-dunning"
    definition = substitute(
        DUNNING_ASL.read_text(),
        {
            "DunningPlanFunctionArn": plan_arn,
            "DunningDispatchFunctionArn": function_arn("dunning_dispatch"),
            "DunningFinishFunctionArn": function_arn("dunning_finish"),
        },
    )
    machine_arn = _ensure_state_machine(client("stepfunctions"), names.dunning_state_machine, definition, role_arn)
    _ensure_schedule(client("scheduler"), names.schedule_group, names.dunning_schedule, machine_arn, role_arn)
    onboarding_definition = substitute(
        ONBOARDING_ASL.read_text(), {"OnboardingStepFunctionArn": function_arn("onboarding_step")}
    )
    onboarding_arn = _ensure_state_machine(
        client("stepfunctions"), names.onboarding_state_machine, onboarding_definition, role_arn
    )
    _ensure_schedule(
        client("scheduler"),
        names.schedule_group,
        names.onboarding_schedule,
        function_arn("onboarding_sweep"),
        role_arn,
        {"trigger": "schedule"},
    )
    return DunningResources(
        onboarding_state_machine_arn=onboarding_arn,
        state_machine_arn=machine_arn,
        send_retry=send_retry,
        email_feedback=feedback,
        link_requests=link_requests,
        feedback_topic_arn=topic_arn,
        schedule_group=names.schedule_group,
    )
