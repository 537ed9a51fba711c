"""One way to deploy a Step Functions state machine from its ASL file (statemachines/*.asl.json), shared by the
dunning run and onboarding: the file as it is with its `${Placeholder}` function ARNs substituted, the role
allowed to invoke exactly those functions (unqualified ARNs: no version or alias wildcard), logs without
execution data (task tokens, customer ids), X-Ray tracing, and the one cdk-nag finding those two always raise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.lambda_function import FunctionDefaults, PythonFunction
from infra.nag import acknowledge


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
