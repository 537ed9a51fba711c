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
