"""Runtime configuration from the environment: the only place that reads it.

CDK sets these variables on every function; `arcollect local` sets them for the emulator; the CLI builds
its own from `.arcollect/local.json` or `--stage`. A plain dataclass, not pydantic-settings: every value
is a string with a default, and the ingest Lambda's cold start is ~0.1 s shorter without pydantic.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

ENV_PREFIX = "ARCOLLECT_"


@dataclass(frozen=True)
class RuntimeSettings:
    stage: str = "dev"
    table_prefix: str = "arcollect-dev-"
    region: str = "us-east-1"
    # Set only when talking to an emulator (moto server); None means the real AWS endpoints.
    endpoint_url: str | None = None
    tin_key_id: str = "alias/arcollect-dev-tin"  # symmetric KMS key that encrypts TINs
    tin_mac_key_id: str = "alias/arcollect-dev-tin-mac"  # HMAC KMS key that fingerprints TINs
    ingest_bucket: str | None = None

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> RuntimeSettings:
        """`ARCOLLECT_<NAME>` for each field; an unset or empty variable keeps the default."""
        given = {
            name: environ[ENV_PREFIX + name.upper()] for name in cls.names() if environ.get(ENV_PREFIX + name.upper())
        }
        return cls(**given)

    def as_environment(self) -> dict[str, str]:
        """The variables that reproduce these settings in another process (a Lambda, the emulator)."""
        return {
            ENV_PREFIX + name.upper(): str(value)
            for name, value in dataclasses.asdict(self).items()
            if value is not None
        }


@lru_cache(maxsize=1)
def runtime_settings() -> RuntimeSettings:
    return RuntimeSettings.from_environment(os.environ)
