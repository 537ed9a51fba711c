"""The synthesized app as the template tests see it (a module of its own: `conftest` is ambiguous)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before the first jsii import, which starts the node runtime that reads it.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk.assertions import Template

from infra.app import build_app
from infra.config import StageConfig
from shared.data.schema import all_table_specs

Grants = set[tuple[str, str, str]]
ITEM_READS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
)
ITEM_WRITES = ("dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
DATA_KEY_USE = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")


@dataclass(frozen=True)
class Synthesized:
    config: StageConfig
    template: dict[str, Any]
    outdir: Path
    template_path: Path

    @property
    def assertions(self) -> Template:
        return Template.from_json(self.template)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def resource(self, logical_id: str) -> dict[str, Any]:
        return dict(self.template["Resources"][logical_id])

    def our_function_ids(self) -> dict[str, str]:
        """Logical ids of arcollect's functions by name (`api`, ...), without the helpers CDK adds."""
        found = {}
        for logical_id, resource in self.resources("AWS::Lambda::Function").items():
            variables = resource["Properties"].get("Environment", {}).get("Variables", {})
            if "ARCOLLECT_STAGE" in variables:
                found[variables["POWERTOOLS_SERVICE_NAME"]] = logical_id
        return found

    def our_functions(self) -> dict[str, dict[str, Any]]:
        return {name: self.resource(logical_id) for name, logical_id in self.our_function_ids().items()}

    def role_id(self, function: dict[str, Any]) -> str:
        return str(function["Properties"]["Role"]["Fn::GetAtt"][0])

    def statements(self, role_id: str) -> list[dict[str, Any]]:
        """Every statement a role is granted: its inline policies and the policies attached to it."""
        found = [
            statement
            for policy in self.resource(role_id)["Properties"].get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
        ]
        for policy in self.resources("AWS::IAM::Policy").values():
            if {"Ref": role_id} in policy["Properties"].get("Roles", []):
                found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
        return found

    def grants(self, role_id: str) -> Grants:
        """(effect, action, resource) for every permission a role has, resources named by `resource_label`,
        so a test can state a role's exact permissions. Conditions are not part of it."""
        return {
            (statement["Effect"], action, self.resource_label(resource))
            for statement in self.statements(role_id)
            for action in _as_list(statement["Action"])
            for resource in _as_list(statement["Resource"])
        }

    def resource_label(self, value: Any) -> str:
        """A policy resource in words: `table/invoices/index/next_action_index`, `bucket/documents/runs/*`,
        `queue/send-retry`, `key/data`; pseudo parameters as `<AWS::Region>`."""
        if isinstance(value, str):
            return value
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(self.resource_label(part) for part in parts)
        logical_id = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
        if logical_id.startswith("AWS::"):
            return f"<{logical_id}>"
        return self._label(logical_id)

    def _label(self, logical_id: str) -> str:
        resource = self.resource(logical_id)
        properties = resource.get("Properties", {})
        prefix = f"{self.config.name_prefix}-"
        named_by = {
            "AWS::DynamoDB::Table": ("table", "TableName"),
            "AWS::SQS::Queue": ("queue", "QueueName"),
            "AWS::Lambda::Function": ("function", "FunctionName"),
            "AWS::StepFunctions::StateMachine": ("state-machine", "StateMachineName"),
            "AWS::SNS::Topic": ("topic", "TopicName"),
        }
        if resource["Type"] in named_by:
            kind, name = named_by[resource["Type"]]
            return f"{kind}/{properties[name].removeprefix(prefix)}"
        if resource["Type"] == "AWS::Logs::LogGroup":
            return f"log-group/{properties['LogGroupName']}"
        if resource["Type"] == "AWS::SecretsManager::Secret":
            return f"secret/{properties['Name'].removeprefix(f'{self.config.name_prefix}/')}"
        if resource["Type"] == "AWS::KMS::Key":
            (alias,) = [
                alias["Properties"]["AliasName"]
                for alias in self.resources("AWS::KMS::Alias").values()
                if alias["Properties"]["TargetKeyId"] == {"Fn::GetAtt": [logical_id, "Arn"]}
            ]
            return f"key/{alias.removeprefix(f'alias/{prefix}')}"
        if resource["Type"] == "AWS::S3::Bucket":
            for output, declared in self.template["Outputs"].items():
                if declared["Value"] == {"Ref": logical_id} and output.endswith("BucketName"):
                    return f"bucket/{output.removesuffix('BucketName').lower()}"
        return logical_id


def table_grants(keys: list[str] | tuple[str, ...], *, write: bool) -> Grants:
    """Item reads (and writes) on the tables and every index their models declare, and the data key."""
    indexes = {spec.key: [index.name for index in spec.indexes] for spec in all_table_specs()}
    resources = [f"table/{key}" for key in keys] + [
        f"table/{key}/index/{name}" for key in keys for name in indexes[key]
    ]
    actions = ITEM_READS + (ITEM_WRITES if write else ())
    return {("Allow", action, resource) for action in actions for resource in resources} | {
        ("Allow", action, "key/data") for action in DATA_KEY_USE
    }


def function_basics(function_name: str) -> Grants:
    """What every function's role holds: traces, and its own log group."""
    log_group = f"log-group//aws/lambda/arcollect-dev-{function_name.replace('_', '-')}"
    return {
        ("Allow", "xray:PutTraceSegments", "*"),
        ("Allow", "xray:PutTelemetryRecords", "*"),
        ("Allow", "logs:CreateLogStream", log_group),
        ("Allow", "logs:PutLogEvents", log_group),
    }


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def synthesize(stage: str, outdir: Path) -> Synthesized:
    app = build_app({"stage": stage, "bundle": False}, outdir=str(outdir), cloudformation_checks=False)
    assembly = app.synth()
    stack = assembly.get_stack_by_name(f"arcollect-{stage}")
    return Synthesized(
        config=StageConfig(stage=stage, bundle=False),
        template=stack.template,
        outdir=Path(assembly.directory),
        template_path=Path(stack.template_full_path),
    )
