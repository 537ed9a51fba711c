"""The names of one local deployment: what CDK would create in an account, under the `local` stage."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.settings import RuntimeSettings, StageNames, stage_names

# moto accepts any credentials; these only have to be present so botocore signs requests.
EMULATOR_ACCESS_KEY = "testing"
EMULATOR_SECRET_KEY = "testing"


@dataclass(frozen=True)
class LocalDeployment:
    stage: str = "local"
    region: str = "us-east-1"
    # The verified SES identity reminders are sent from. `.local` is never delivered anywhere; the
    # emulator only checks that the sender was verified, as SES would.
    sender_email: str = "ar@arcollect.local"

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

    def settings(self, endpoint_url: str | None) -> RuntimeSettings:
        """This deployment's runtime settings; `endpoint_url` None means AWS itself (or moto in-process)."""
        return self.names.settings(region=self.region, endpoint_url=endpoint_url, ingest_bucket=self.ingest_bucket)

    def environment(self, endpoint_url: str, moto_port: int) -> dict[str, str]:
        """What every part of the system (handlers, CLI code, boto3) reads to find the emulator."""
        env = {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # moto's Step Functions interpreter calls Lambda and other services at localhost:MOTO_PORT.
            "MOTO_PORT": str(moto_port),
            "ARCOLLECT_SENDER_EMAIL": self.sender_email,
        }
        env.update(self.settings(endpoint_url).as_environment())
        return env


def apply_environment(env: dict[str, str]) -> None:
    """Export `env` into this process; a profile or session token would point boto3 at a real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(env)
