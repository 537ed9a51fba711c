"""Fixtures shared by every test layer: an in-process AWS (moto) provisioned like a deployment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from arcollect.local import moto_fast_responses, moto_item_size, moto_transactions
from arcollect.local.deployment import LocalDeployment
from arcollect.local.provisioning import provision_ingest_bucket, provision_tables, provision_tin_keys
from shared.data.binding import bind_tables
from shared.ledger.importer import LedgerImporter, build_importer
from shared.settings import RuntimeSettings

# Never let a test reach a real account, whatever the developer's shell has configured.
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")

moto_transactions.install()
# The emulator as `arcollect local` runs it (each patch has its own test in tests/integration).
moto_fast_responses.install()
moto_item_size.install()

FIXED_NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


@pytest.fixture
def deployment() -> LocalDeployment:
    return LocalDeployment(stage="test")


@pytest.fixture
def settings(deployment: LocalDeployment) -> RuntimeSettings:
    return deployment.settings(endpoint_url=None)  # moto in-process: boto3 needs no endpoint


@pytest.fixture
def aws(deployment: LocalDeployment, settings: RuntimeSettings) -> Iterator[None]:
    """moto in-process with the tables, keys and bucket a deployment has; the models bound to them."""
    with mock_aws():
        provision_tables(boto3.client("dynamodb", region_name=deployment.region), deployment.table_prefix)
        provision_tin_keys(boto3.client("kms", region_name=deployment.region), deployment)
        provision_ingest_bucket(
            boto3.client("s3", region_name=deployment.region), deployment.ingest_bucket, deployment.region
        )
        bind_tables(settings.table_prefix, settings.region, None)
        yield


@pytest.fixture
def importer(aws: None, settings: RuntimeSettings) -> LedgerImporter:
    return build_importer(settings, clock=lambda: FIXED_NOW)
