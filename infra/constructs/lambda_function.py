"""The one way arcollect builds a Lambda function: Python 3.13 on arm64, its own role, its own log group,
X-Ray tracing, the runtime dependencies layer and the ARCOLLECT_* settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import AssetHashType, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import bundling
from infra.config import StageConfig
from infra.constructs.observability import Observability
from infra.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64


@dataclass(frozen=True)
class FunctionDefaults:
    """What every function of a stage shares."""

    config: StageConfig
    observability: Observability
    dependencies: lambda_.ILayerVersion
    environment: Mapping[str, str]


def dependencies_layer(scope: Construct, construct_id: str, *, config: StageConfig) -> lambda_.LayerVersion:
    """The `[project].dependencies` as uv.lock pins them, installed for the Lambda platform."""
    layer = bundling.dependencies_layer(install=config.bundle)
    return lambda_.LayerVersion(
        scope,
        construct_id,
        code=lambda_.Code.from_asset(
            str(layer.path), asset_hash=layer.source_hash, asset_hash_type=AssetHashType.CUSTOM
        ),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="arcollect runtime dependencies (uv.lock: [project].dependencies)",
        removal_policy=config.removal_policy,
    )


class PythonFunction(Construct):
    """A function whose code is `shared/` plus `functions/<name>/`, handler `functions.<name>.handler.handler`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str,
        defaults: FunctionDefaults,
        timeout: Duration = Duration.seconds(29),
        memory_size: int = 512,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """`environment`: variables this function needs beyond the ones every function gets."""
        super().__init__(scope, construct_id)
        config = defaults.config
        self.function_name = f"{config.name_prefix}-{name.replace('_', '-')}"
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {self.function_name} and nothing else",
        )
        self.log_group = defaults.observability.log_group(
            self, "Logs", log_group_name=f"/aws/lambda/{self.function_name}"
        )
        code = bundling.function_code(name)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.function_name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"functions.{name}.handler.handler",
            code=lambda_.Code.from_asset(
                str(code.path), asset_hash=code.source_hash, asset_hash_type=AssetHashType.CUSTOM
            ),
            layers=[defaults.dependencies],
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=timeout,
            memory_size=memory_size,
            environment={
                **defaults.environment,
                **(environment or {}),
                **defaults.observability.powertools_environment(name),
            },
        )
        self.log_group.grant_write(self.role)
        defaults.observability.alarm_on_errors(self.function, name=_camel(name))
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            reason="X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "
            "tracing is the only statement on '*'.",
        )
        cfn_function = self.function.node.default_child
        assert cfn_function is not None
        acknowledge(
            cfn_function,
            "AwsSolutions-L1",
            reason="Python 3.13 is the runtime the project pins: the layer's wheels are built for cp313 and "
            "the code is tested on it; moving to a newer runtime is a deliberate upgrade.",
        )


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
