"""What differs between stages (dev, prod), read once from CDK context."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

from shared.settings import StageNames, stage_names

PRODUCTION_STAGE = "prod"


def context_flag(node: Node, key: str, *, default: bool) -> bool:
    """A boolean from context, which the CLI (`-c bundle=false`) passes as a string."""
    value = node.try_get_context(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in {"false", "0", "no", "off"}


@dataclass(frozen=True)
class StageConfig:
    """One deployment of arcollect. Only `prod` keeps data when the stack is deleted."""

    stage: str
    bundle: bool = True

    def __post_init__(self) -> None:
        stage_names(self.stage)  # refuses a name that cannot prefix every resource

    @classmethod
    def from_context(cls, node: Node) -> StageConfig:
        return cls(
            stage=str(node.try_get_context("stage") or "dev"),
            bundle=context_flag(node, "bundle", default=True),
        )

    @property
    def is_production(self) -> bool:
        return self.stage == PRODUCTION_STAGE

    @property
    def names(self) -> StageNames:
        """Physical names, derived as the local system and the CLI derive them."""
        return stage_names(self.stage)

    @property
    def name_prefix(self) -> str:
        """Prefix of every physical name in the stage (tables, functions, keys, API)."""
        return self.names.prefix

    @property
    def table_prefix(self) -> str:
        return self.names.table_prefix

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.is_production else RemovalPolicy.DESTROY

    @property
    def deletion_protection(self) -> bool:
        return self.is_production

    @property
    def key_deletion_window(self) -> Duration:
        """How long a removed KMS key can still be recovered (KMS allows 7 to 30 days)."""
        return Duration.days(30 if self.is_production else 7)

    @property
    def log_retention(self) -> logs.RetentionDays:
        return logs.RetentionDays.ONE_YEAR if self.is_production else logs.RetentionDays.TWO_WEEKS

    @property
    def log_level(self) -> str:
        return "INFO" if self.is_production else "DEBUG"

    @property
    def api_rate_limit(self) -> int:
        """Steady requests per second across the stage (API Gateway throttling)."""
        return 200 if self.is_production else 25

    @property
    def api_burst_limit(self) -> int:
        return 400 if self.is_production else 50

    @property
    def waf_requests_per_ip(self) -> int:
        """Requests one IP may make in WAF's 5-minute window before it is blocked."""
        return 2000 if self.is_production else 500
