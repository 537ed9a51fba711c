"""cdk-nag v3: the AwsSolutions pack runs as a CDK validation plugin on every synth, and a finding is
either fixed or acknowledged on the construct it concerns, with the reason written next to it."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Stage, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

NAG_PACK = "AwsSolutions"


def check_with_cdk_nag(stage: Stage) -> None:
    """Fail synthesis on any unacknowledged AwsSolutions finding; copy acknowledgements into the template
    metadata (`cdk_nag.rules_to_suppress`) so the reasons travel with it."""
    Validations.of(stage).add_plugins(
        AwsSolutionsChecks(stage, verbose=True, write_suppressions_to_cloud_formation=True)
    )


def acknowledge(construct: IConstruct, rule_id: str, *, reason: str) -> None:
    """Accept one finding (e.g. `AwsSolutions-IAM5[Resource::*]`) on `construct` and everything under it."""
    if len(reason.split()) < 6:
        raise ValueError(f"{rule_id}: an acknowledgement needs a real reason, not {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def arn_finding(resource: IConstruct) -> str:
    """How cdk-nag names `Fn::GetAtt <resource>.Arn` inside a finding, e.g. `<IngestBucket1DD274D5.Arn>`."""
    element = resource.node.default_child
    if not isinstance(element, CfnElement):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource of its own")
    return f"<{Stack.of(resource).get_logical_id(element)}.Arn>"


def acknowledge_cdk_helper_functions(stack: IConstruct) -> None:
    """Findings on the helper functions CDK itself adds to a stack: they run at deploy time only."""
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            acknowledge(
                child,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                reason="CDK's bucket-notification helper runs only during deployment to configure the ingest "
                "bucket's notifications; the AWS basic execution policy lets it write its own logs.",
            )
