"""The names of one local deployment: what CDK would create in an account, under the `local` stage."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from shared.settings import RuntimeSettings, StageNames, stage_names

# moto accepts any credentials; these only have to be present so botocore signs requests.
EMULATOR_ACCESS_KEY = "testing"
EMULATOR_SECRET_KEY = "testing"


def _seconds(variable: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(variable) or default))
    except ValueError:
        return default


@dataclass(frozen=True)
class LocalDeployment:
    stage: str = "local"
    region: str = "us-east-1"
    # The verified SES identity reminders are sent from. `.local` is never delivered anywhere; the
    # emulator only checks that the sender was verified, as SES would.
    sender_email: str = "ar@arcollect.local"
    seller_name: str = "Demo Supplies Inc."
    # How long onboarding waits for the verification click before its one reminder (and again after it):
    # three days, or `ARCOLLECT_ONBOARDING_CLICK_WAIT_S` seconds (to watch the reminder and the timeout locally).
    onboarding_click_wait_s: int = field(
        default_factory=lambda: _seconds("ARCOLLECT_ONBOARDING_CLICK_WAIT_S", 3 * 86400)
    )

    @property
    def names(self) -> StageNames:
        """The same names CDK gives the stage's resources (shared.settings.stage_names)."""
        return stage_names(self.stage)

    @property
    def resource_prefix(self) -> str:
        return self.names.table_prefix

    @property
    def table_prefix(self) -> str:
        return self.names.table_prefix

    @property
    def tin_key_alias(self) -> str:
        return self.names.tin_key_alias

    @property
    def tin_mac_key_alias(self) -> str:
        return self.names.tin_mac_key_alias

    @property
    def ingest_bucket(self) -> str:
        return self.names.local_ingest_bucket

    @property
    def documents_bucket(self) -> str:
        return self.names.local_documents_bucket

    def queue_url(self, endpoint_url: str | None, queue_name: str) -> str:
        """moto's URL for a queue of this deployment (the account is moto's default one)."""
        from moto.core import DEFAULT_ACCOUNT_ID

        return f"{endpoint_url or 'http://localhost:5000'}/{DEFAULT_ACCOUNT_ID}/{queue_name}"

    def settings(
        self, endpoint_url: str | None, *, today: str | None = None, portal_url: str | None = None
    ) -> RuntimeSettings:
        """This deployment's runtime settings; `endpoint_url` None means AWS itself (or moto in-process)."""
        names = self.names
        settings = names.settings(region=self.region, endpoint_url=endpoint_url, ingest_bucket=self.ingest_bucket)
        return dataclasses.replace(
            settings,
            today=today,
            documents_bucket=self.documents_bucket,
            sender_email=self.sender_email,
            seller_name=self.seller_name,
            portal_url=portal_url,
            link_secret_id=names.link_secret_name,
            send_retry_queue_url=self.queue_url(endpoint_url, names.send_retry_queue),
            link_request_queue_url=self.queue_url(endpoint_url, names.link_request_queue),
            ses_configuration_set=names.ses_configuration_set,
            onboarding_state_machine_arn=self.state_machine_arn(names.onboarding_state_machine),
            onboarding_click_wait_s=str(self.onboarding_click_wait_s),
            onboarding_sweep_function=f"{names.table_prefix}onboarding_sweep",  # the local router's name
            # No DNS and no tax registry from a laptop demo: stubs that say so in every verdict.
            external_checks="stub",
        )

    def state_machine_arn(self, name: str) -> str:
        from moto.core import DEFAULT_ACCOUNT_ID

        return f"arn:aws:states:{self.region}:{DEFAULT_ACCOUNT_ID}:stateMachine:{name}"

    def environment(
        self, endpoint_url: str, moto_port: int, *, today: str | None = None, portal_url: str | None = None
    ) -> dict[str, str]:
        """What every part of the system (handlers, CLI code, boto3) reads to find the emulator."""
        env = {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # moto's Step Functions interpreter calls Lambda and other services at localhost:MOTO_PORT.
            "MOTO_PORT": str(moto_port),
            # The handlers run in the local system's own terminal: warnings and errors only, not a JSON line
            # per invocation.
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        env.update(self.settings(endpoint_url, today=today, portal_url=portal_url).as_environment())
        return env


def apply_environment(env: dict[str, str]) -> None:
    """Export `env` into this process; a profile or session token would point boto3 at a real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(env)
