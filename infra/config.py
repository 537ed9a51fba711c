"""What differs between stages (dev, prod), read once from CDK context."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

from shared.settings import StageNames, stage_names

PRODUCTION_STAGE = "prod"
DEFAULT_SENDER_EMAIL = "ar@example.com"
DEFAULT_SELLER_NAME = "arcollect"


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
    sender_email: str = DEFAULT_SENDER_EMAIL  # the SES identity reminders come from
    seller_name: str = DEFAULT_SELLER_NAME  # who the reminders speak for
    portal_url: str | None = None  # None: the CloudFront distribution serving the portal page

    def __post_init__(self) -> None:
        stage_names(self.stage)  # refuses a name that cannot prefix every resource
        local, _, domain = self.sender_email.partition("@")
        if not local or "." not in domain:
            raise ValueError(
                f"sender_email {self.sender_email!r}: give the address reminders come from, e.g. ar@acme.com"
            )
        if self.portal_url is not None and not self.portal_url.startswith("https://"):
            raise ValueError(f"portal_url {self.portal_url!r}: links in reminders must use https://")

    @classmethod
    def from_context(cls, node: Node) -> StageConfig:
        return cls(
            stage=str(node.try_get_context("stage") or "dev"),
            bundle=context_flag(node, "bundle", default=True),
            sender_email=str(node.try_get_context("sender_email") or DEFAULT_SENDER_EMAIL),
            seller_name=str(node.try_get_context("seller_name") or DEFAULT_SELLER_NAME),
            portal_url=str(node.try_get_context("portal_url") or "") or None,
        )

    @property
    def sender_domain(self) -> str:
        return self.sender_email.partition("@")[2]

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
