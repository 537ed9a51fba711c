"""Onboarding as deployed: the ASL file itself with its one placeholder filled by the step function, a logged and
traced standard machine that may invoke that function alone and raises an alarm when an execution fails, the
sweep invoked hourly by EventBridge Scheduler in the stage's schedule group, and each function told exactly the
settings it reads; only the API and the sweep may start a validation, only the API may answer its click."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from synthesized_app import Synthesized

from shared.settings import RuntimeSettings, stage_names, variable

ASL_FILE = Path(__file__).resolve().parents[2] / "statemachines" / "onboarding.asl.json"
PLACEHOLDER = "OnboardingStepFunctionArn"
ACCOUNT_ARN = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"
LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
}
TRACING = {"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"}
# The emails go out like reminders; the step's verification link is a one-time token, not a signed link.
EMAIL_SETTINGS = ("ARCOLLECT_SENDER_EMAIL", "ARCOLLECT_SELLER_NAME", "ARCOLLECT_SES_CONFIGURATION_SET")


def _machine(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    name = stage_names(synth.config.stage).onboarding_state_machine
    ((logical_id, properties),) = [
        (logical_id, machine["Properties"])
        for logical_id, machine in synth.resources("AWS::StepFunctions::StateMachine").items()
        if machine["Properties"]["StateMachineName"] == name
    ]
    return logical_id, properties


def _schedule(synth: Synthesized) -> dict[str, Any]:
    name = stage_names(synth.config.stage).onboarding_schedule
    (schedule,) = [
        schedule
        for schedule in synth.resources("AWS::Scheduler::Schedule").values()
        if schedule["Properties"]["Name"] == name
    ]
    return schedule


def _deployed_definition(synth: Synthesized) -> str:
    _, machine = _machine(synth)
    return (synth.outdir / f"asset.{machine['DefinitionS3Location']['Key']}").read_text()


def _tasks(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [state for state in definition["States"].values() if state["Type"] == "Task"]


def _variables(synth: Synthesized, name: str) -> dict[str, Any]:
    return dict(synth.our_functions()[name]["Properties"]["Environment"]["Variables"])


def test_the_state_machine_is_the_asl_file_itself(dev: Synthesized) -> None:
    assert _deployed_definition(dev) == ASL_FILE.read_text()


def test_the_one_placeholder_of_the_asl_is_filled_with_the_step_function_that_runs_every_task(dev: Synthesized) -> None:
    _, machine = _machine(dev)
    definition = _deployed_definition(dev)
    substitutions = machine["DefinitionSubstitutions"]

    assert set(re.findall(r"\$\{(\w+)\}", definition)) == set(substitutions) == {PLACEHOLDER}
    assert substitutions == {PLACEHOLDER: {"Fn::GetAtt": [dev.our_function_ids()["onboarding_step"], "Arn"]}}
    # As CloudFormation will: nothing of the form ${...} is left, and every task invokes the step function,
    # plainly or waiting for the click's task token; nothing else is called.
    step_arn = "arn:aws:lambda:eu-west-1:123456789012:function:onboarding_step"
    filled = json.loads(definition.replace(f"${{{PLACEHOLDER}}}", step_arn))
    tasks = _tasks(filled)
    assert "${" not in json.dumps(filled)
    assert {task["Parameters"]["FunctionName"] for task in tasks} == {step_arn}
    assert {task["Resource"] for task in tasks} == {
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
    }


def test_the_workflow_is_a_named_standard_machine_logged_without_execution_data_and_traced(
    stage: Synthesized,
) -> None:
    _, machine = _machine(stage)
    logging = machine["LoggingConfiguration"]
    (destination,) = logging["Destinations"]
    log_group = stage.resource(destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0])

    assert machine["StateMachineType"] == "STANDARD"
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", False)
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert log_group["Properties"]["LogGroupName"] == f"/aws/vendedlogs/states/{machine['StateMachineName']}"
    assert log_group["Properties"]["RetentionInDays"] == (365 if stage.config.is_production else 14)


def test_the_state_machine_may_invoke_the_step_function_and_nothing_else(dev: Synthesized) -> None:
    _, machine = _machine(dev)
    role_id = machine["RoleArn"]["Fn::GetAtt"][0]

    assert dev.grants(role_id) == {
        ("Allow", "lambda:InvokeFunction", "function/onboarding-step"),
        *{("Allow", action, "*") for action in LOG_DELIVERY | TRACING},
    }
    assert dev.resource(role_id)["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "states.amazonaws.com"
    }


def test_the_sweep_is_invoked_every_hour_on_the_hour_in_utc_from_the_stage_schedule_group(stage: Synthesized) -> None:
    names = stage_names(stage.config.stage)
    schedule = _schedule(stage)
    properties = schedule["Properties"]
    ((group_id, group),) = stage.resources("AWS::Scheduler::ScheduleGroup").items()

    assert (properties["GroupName"], group["Properties"]["Name"]) == (names.schedule_group, names.schedule_group)
    assert group_id in schedule["DependsOn"]  # the group is referred to by name: created first all the same
    assert properties["ScheduleExpression"] == "cron(0 * * * ? *)"
    assert properties.get("ScheduleExpressionTimezone", "UTC") in {"UTC", "Etc/UTC"}
    assert properties["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert properties["State"] == "ENABLED"
    assert properties["Target"]["Arn"] == {"Fn::GetAtt": [stage.our_function_ids()["onboarding_sweep"], "Arn"]}
    assert json.loads(properties["Target"]["Input"]) == {"trigger": "schedule"}
    # A sweep that could not run within its hour is superseded by the next one, which covers everything due.
    assert properties["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 3600


def test_the_schedule_role_may_only_invoke_the_sweep(dev: Synthesized) -> None:
    role_id = _schedule(dev)["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    (trust,) = dev.resource(role_id)["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    # CDK's Lambda target names the function and its versions and aliases (the sweep has none).
    assert dev.grants(role_id) == {
        ("Allow", "lambda:InvokeFunction", "function/onboarding-sweep"),
        ("Allow", "lambda:InvokeFunction", "function/onboarding-sweep:*"),
    }
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_a_failed_execution_raises_an_alarm(dev: Synthesized) -> None:
    machine_id, _ = _machine(dev)
    alarms = [
        alarm["Properties"]
        for alarm in dev.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ExecutionsFailed"
        and {"Name": "StateMachineArn", "Value": {"Ref": machine_id}} in alarm["Properties"]["Dimensions"]
    ]

    assert len(alarms) == 1
    assert alarms[0]["Threshold"] == 1 and alarms[0]["AlarmActions"]


def test_the_step_emails_as_reminders_do_with_links_to_the_portal_the_api_serves(dev: Synthesized) -> None:
    step, dispatch, api = (_variables(dev, name) for name in ("onboarding_step", "dunning_dispatch", "api"))

    for name in EMAIL_SETTINGS:
        assert step[name] == dispatch[name], name
    assert step["ARCOLLECT_PORTAL_URL"] == api["ARCOLLECT_PORTAL_URL"]
    # The verification link is a one-time token: the step neither signs links nor starts executions.
    assert variable("link_secret_id") not in step
    assert variable("onboarding_state_machine_arn") not in step
    settings = RuntimeSettings.from_environment({name: str(value) for name, value in step.items()})
    assert settings.sender_email == "ar@example.com"


def test_the_sweep_and_the_api_are_told_which_state_machine_to_start(dev: Synthesized) -> None:
    machine_id, _ = _machine(dev)
    sweep, dispatch = _variables(dev, "onboarding_sweep"), _variables(dev, "dunning_dispatch")

    for name in ("onboarding_sweep", "api"):
        assert _variables(dev, name)[variable("onboarding_state_machine_arn")] == {"Ref": machine_id}, name
    # Invitations carry a signed portal link and go out as reminders do.
    assert dev.resource_label(sweep["ARCOLLECT_LINK_SECRET_ID"]) == "secret/link-signing"
    for name in (*EMAIL_SETTINGS, "ARCOLLECT_PORTAL_URL"):
        assert sweep[name] == dispatch[name], name


def test_no_function_is_told_a_click_wait_or_to_stub_the_external_checks(dev: Synthesized) -> None:
    """The wait for the click has its default in code; external checks are live wherever AWS runs the code."""
    unset = {variable("onboarding_click_wait_s"), variable("external_checks")}
    for name in dev.our_functions():
        assert not unset & set(_variables(dev, name)), name


def test_the_step_has_a_minute_for_dns_and_the_registry_and_the_sweep_fifteen_to_work_through_the_hour_s_due(
    dev: Synthesized,
) -> None:
    functions = dev.our_functions()

    assert functions["onboarding_step"]["Properties"]["Timeout"] == 60
    assert functions["onboarding_sweep"]["Properties"]["Timeout"] == 900  # it stops with a minute left


def _states_grants(synth: Synthesized) -> dict[str, set[tuple[str, str]]]:
    """(action, resource) of every Step Functions permission, by the function holding it (other roles by
    logical id)."""
    by_role = {synth.role_id(function): name for name, function in synth.our_functions().items()}
    found: dict[str, set[tuple[str, str]]] = {}
    for role_id in synth.resources("AWS::IAM::Role"):
        for statement in synth.statements(role_id):
            actions = [action for action in _as_list(statement["Action"]) if action.startswith("states:")]
            for action in actions:
                for resource in _as_list(statement["Resource"]):
                    found.setdefault(by_role.get(role_id, role_id), set()).add((action, synth.resource_label(resource)))
    return found


def _holders(synth: Synthesized, action: str, resource: str) -> set[str]:
    return {holder for holder, grants in _states_grants(synth).items() if (action, resource) in grants}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_only_the_api_and_the_sweep_may_start_and_stop_validations(dev: Synthesized) -> None:
    executions = f"{ACCOUNT_ARN}:execution:{stage_names('dev').onboarding_state_machine}:*"

    assert _holders(dev, "states:StartExecution", "state-machine/onboarding") == {"api", "onboarding_sweep"}
    assert _holders(dev, "states:StopExecution", executions) == {"api", "onboarding_sweep"}


def test_only_the_api_and_the_waiting_step_may_answer_the_executions_task_token(dev: Synthesized) -> None:
    every_action = {action for grants in _states_grants(dev).values() for action, _ in grants}

    # The API for the click; the step itself when there is nothing to wait for (confirmed already, superseded).
    machine = f"{ACCOUNT_ARN}:stateMachine:{stage_names('dev').onboarding_state_machine}"
    assert _holders(dev, "states:SendTaskSuccess", machine) == {"api", "onboarding_step"}
    # Never SendTaskFailure or SendTaskHeartbeat: a click only ever lets the execution go on.
    assert {action for action in every_action if action.startswith("states:SendTask")} == {"states:SendTaskSuccess"}


def test_outputs_name_the_onboarding_state_machine(dev: Synthesized) -> None:
    machine_id, _ = _machine(dev)

    assert dev.template["Outputs"]["OnboardingStateMachineArn"]["Value"] == {"Ref": machine_id}
