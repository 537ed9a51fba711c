"""Runtime configuration, and the one place that derives a stage's resource names.

`RuntimeSettings.from_environment` is the only reader of the `ARCOLLECT_*` variables. CDK sets them on every
function; a function missing one stops at cold start with a `SettingsError` naming every missing variable,
rather than quietly using another stage's tables. The local system and the CLI build their settings
explicitly from `stage_names`, which CDK (infra/config.py) uses too, so a table, key alias or queue is named
the same way everywhere. A plain dataclass, not pydantic-settings: the ingest Lambda's cold start is ~0.1 s
shorter without pydantic.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

ENV_PREFIX = "ARCOLLECT_"
PRODUCT = "arcollect"
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9]{1,11}$")


class SettingsError(RuntimeError):
    """The environment does not describe a deployment; the message names what is missing or wrong."""


@dataclass(frozen=True)
class StageNames:
    """The physical names of one stage's resources. Names CloudFormation chooses (the deployed ingest
    bucket, for one) are not here: only the local system names its bucket."""

    stage: str

    def __post_init__(self) -> None:
        if not _STAGE_NAME.match(self.stage):
            raise ValueError(f"stage {self.stage!r}: use 2-12 lowercase letters or digits, e.g. dev or prod")

    @property
    def prefix(self) -> str:
        """Prefix of every physical name in the stage (stack, tables, functions, keys, queues, API)."""
        return f"{PRODUCT}-{self.stage}"

    @property
    def table_prefix(self) -> str:
        return f"{self.prefix}-"

    def table(self, key: str) -> str:
        return f"{self.table_prefix}{key}"

    def key_alias(self, purpose: str) -> str:
        return f"alias/{self.prefix}-{purpose}"

    @property
    def tin_key_alias(self) -> str:
        return self.key_alias("tin")

    @property
    def tin_mac_key_alias(self) -> str:
        return self.key_alias("tin-mac")

    def function(self, name: str) -> str:
        """A Lambda function's name: `ledger_ingest` → `arcollect-dev-ledger-ingest`."""
        return f"{self.prefix}-{name.replace('_', '-')}"

    def queue(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    @property
    def ledger_ingest_queue(self) -> str:
        return self.queue("ledger-ingest")

    @property
    def ledger_ingest_dead_letter_queue(self) -> str:
        return self.queue("ledger-ingest-dlq")

    @property
    def local_ingest_bucket(self) -> str:
        return f"{self.prefix}-ingest"

    @property
    def local_documents_bucket(self) -> str:
        return f"{self.prefix}-documents"

    @property
    def send_retry_queue(self) -> str:
        """Failed reminder sends wait here for another attempt."""
        return self.queue("send-retry")

    @property
    def send_retry_dead_letter_queue(self) -> str:
        return self.queue("send-retry-dlq")

    @property
    def link_request_queue(self) -> str:
        """`POST /portal/links` requests wait here: the API answers the same at once, a worker sends the link."""
        return self.queue("link-requests")

    @property
    def link_request_dead_letter_queue(self) -> str:
        return self.queue("link-requests-dlq")

    @property
    def email_feedback_queue(self) -> str:
        """SES bounce and complaint notifications (through the feedback topic)."""
        return self.queue("email-feedback")

    @property
    def email_feedback_dead_letter_queue(self) -> str:
        return self.queue("email-feedback-dlq")

    @property
    def email_feedback_topic(self) -> str:
        return f"{self.prefix}-email-feedback"

    @property
    def ses_configuration_set(self) -> str:
        return f"{self.prefix}-reminders"

    @property
    def link_secret_name(self) -> str:
        """The Secrets Manager secret holding the key that signs portal links."""
        return f"{self.prefix}/link-signing"

    @property
    def dunning_state_machine(self) -> str:
        return f"{self.prefix}-dunning"

    @property
    def onboarding_state_machine(self) -> str:
        return f"{self.prefix}-onboarding"

    @property
    def onboarding_schedule(self) -> str:
        return f"{self.prefix}-onboarding-hourly"

    @property
    def schedule_group(self) -> str:
        return self.prefix

    @property
    def dunning_schedule(self) -> str:
        return f"{self.prefix}-dunning-hourly"

    def settings(
        self, *, region: str, endpoint_url: str | None = None, ingest_bucket: str | None = None
    ) -> RuntimeSettings:
        """The settings of a deployment of this stage that names its keys by alias."""
        return RuntimeSettings(
            stage=self.stage,
            table_prefix=self.table_prefix,
            region=region,
            endpoint_url=endpoint_url,
            tin_key_id=self.tin_key_alias,
            tin_mac_key_id=self.tin_mac_key_alias,
            ingest_bucket=ingest_bucket,
        )


def stage_names(stage: str) -> StageNames:
    """The names of `stage`'s resources; ValueError for a stage name CDK would refuse."""
    return StageNames(stage)


@dataclass(frozen=True)
class RuntimeSettings:
    stage: str
    table_prefix: str
    region: str
    tin_key_id: str  # symmetric KMS key whose data keys encrypt TINs (id, ARN or alias)
    tin_mac_key_id: str  # HMAC KMS key the TIN fingerprint key is derived from
    # Set only when talking to an emulator (moto server); None means the real AWS endpoints.
    endpoint_url: str | None = None
    # Named only by the local system; nothing deployed reads it (the drop folder takes the bucket from the event).
    ingest_bucket: str | None = None
    # The day the system treats as today (`arcollect local --today`); None: the clock's. Never set in AWS.
    today: str | None = None
    # Dunning (set on the functions that send; the others never read them).
    documents_bucket: str | None = None  # letters, agency referrals, run manifests
    sender_email: str | None = None  # the verified SES identity reminders come from
    seller_name: str | None = None  # who the reminders speak for
    portal_url: str | None = None  # base URL of the portal page the links open
    link_secret_id: str | None = None  # Secrets Manager secret of the link-signing key
    send_retry_queue_url: str | None = None
    link_request_queue_url: str | None = None  # sign-in links asked for by email address (POST /portal/links)
    ses_configuration_set: str | None = None
    # Onboarding (shared/onboarding): the validation workflow, how long it waits for the verification click
    # (seconds; then one reminder and as long again), and whether DNS and the TIN registries are asked
    # ("live") or answered by stubs ("stub": the local system and the tests; never set in AWS).
    onboarding_state_machine_arn: str | None = None
    onboarding_click_wait_s: str | None = None
    onboarding_sweep_function: str | None = None  # the staff API sends invitations through it (it holds SES)
    external_checks: str | None = None

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def required_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> RuntimeSettings:
        """`ARCOLLECT_<NAME>` for each field; an unset or empty variable is missing, and a missing required
        one is a SettingsError that names every such variable."""
        given = {name: environ[variable(name)] for name in cls.names() if environ.get(variable(name))}
        missing = [variable(name) for name in cls.required_names() if name not in given]
        if missing:
            raise SettingsError(
                f"missing environment variable(s) {', '.join(missing)}: every arcollect function needs them "
                "(CDK sets them; the local system and the CLI build their settings from the stage name)"
            )
        return cls(**given)

    def as_environment(self) -> dict[str, str]:
        """The variables that reproduce these settings in another process (a Lambda, the emulator)."""
        return {variable(name): str(value) for name, value in dataclasses.asdict(self).items() if value is not None}


def variable(name: str) -> str:
    """The environment variable of a settings field."""
    return ENV_PREFIX + name.upper()


@lru_cache(maxsize=1)
def runtime_settings() -> RuntimeSettings:
    """This process's settings, read once; raises SettingsError when a required variable is missing."""
    return RuntimeSettings.from_environment(os.environ)
