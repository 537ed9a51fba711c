"""Runtime configuration from the environment: the only place that reads it.

CDK sets these variables on every function; `arcollect local` sets them for the emulator; the CLI reads
them (or `.arcollect/local.json`) to find a deployment.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARCOLLECT_", extra="ignore")

    stage: str = "dev"
    table_prefix: str = "arcollect-dev-"
    region: str = "us-east-1"
    # Set only when talking to an emulator (moto server); None means the real AWS endpoints.
    endpoint_url: str | None = None
    tin_key_id: str = "alias/arcollect-dev-tin"  # symmetric KMS key that encrypts TINs
    tin_mac_key_id: str = "alias/arcollect-dev-tin-mac"  # HMAC KMS key that fingerprints TINs
    ingest_bucket: str | None = None


@lru_cache(maxsize=1)
def runtime_settings() -> RuntimeSettings:
    return RuntimeSettings()
