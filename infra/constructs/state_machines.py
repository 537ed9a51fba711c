"""One way to deploy a Step Functions state machine from its ASL file (statemachines/*.asl.json), shared by the
dunning run and onboarding: the file as it is with its `${Placeholder}` function ARNs substituted, the role
allowed to invoke exactly those functions (unqualified ARNs: no version or alias wildcard), logs without
execution data (task tokens, customer ids), X-Ray tracing, and the one cdk-nag finding those two always raise;
the hourly schedule that starts the work, and the alarm on a failed execution."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.lambda_function import FunctionDefaults, PythonFunction
from infra.nag import acknowledge

# Hourly on the hour, in UTC: the dunning run (each customer reached inside its own send window) and the
# onboarding sweep.
HOURLY = "cron(0 * * * ? *)"


def asl_state_machine(
    scope: Construct,
    *,
    name: str,
    definition_file: Path,
    functions: Mapping[str, PythonFunction],
    role: iam.Role,
    defaults: FunctionDefaults,
) -> sfn.StateMachine:
    """`functions`: placeholder in the ASL → the function whose ARN replaces it (and that `role` may invoke)."""
    iam.Grant.add_to_principal(
        grantee=role,
        actions=["lambda:InvokeFunction"],
        resource_arns=[function.function.function_arn for function in functions.values()],
    )
    log_group = defaults.observability.log_group(
        scope, "StateMachineLogs", log_group_name=f"/aws/vendedlogs/states/{name}"
    )
    state_machine = sfn.StateMachine(
        scope,
        "StateMachine",
        state_machine_name=name,
        state_machine_type=sfn.StateMachineType.STANDARD,
        definition_body=sfn.DefinitionBody.from_file(str(definition_file)),
        definition_substitutions={
            placeholder: function.function.function_arn for placeholder, function in functions.items()
        },
        role=role,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        tracing_enabled=True,
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        reason="CloudWatch Logs delivery (logs:*LogDelivery, resource policies) and X-Ray tracing have "
        "no resource-level permissions; nothing else in this role is granted on '*'.",
    )
    return state_machine


def hourly_schedule(
    scope: Construct,
    *,
    name: str,
    group: scheduler.IScheduleGroup,
    description: str,
    role_description: str,
    target: Callable[[iam.Role], scheduler.IScheduleTarget],
) -> tuple[scheduler.Schedule, iam.Role]:
    """An EventBridge Scheduler schedule every hour on the hour (UTC) in the stage's group, with its own role
    that only this account's scheduler may assume; `target(role)` is what it starts or invokes."""
    role = iam.Role(
        scope,
        "ScheduleRole",
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}}
        ),
        description=role_description,
    )
    schedule = scheduler.Schedule(
        scope,
        "Schedule",
        schedule_name=name,
        schedule_group=group,
        description=description,
        schedule=scheduler.ScheduleExpression.expression(HOURLY),
        time_window=scheduler.TimeWindow.off(),
        target=target(role),
    )
    # The schedule names its group by name only: without this, CloudFormation may create it first.
    schedule.node.add_dependency(group)
    return schedule, role


def alarm_on_failed_executions(
    scope: Construct, state_machine: sfn.StateMachine, construct_id: str, description: str, topic: sns.ITopic
) -> None:
    """Any failed execution within five minutes raises the stage's alarm."""
    alarm = state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum").create_alarm(
        scope,
        construct_id,
        alarm_description=description,
        threshold=1,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
