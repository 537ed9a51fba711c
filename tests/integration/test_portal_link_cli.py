"""`arcollect portal-link ID [--json]`: what support types and reads, against a running local system's emulator
and against a deployed stage (the in-process AWS): a link that signs the customer in, to the right page."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import typer
from typer.testing import CliRunner

from arcollect.cli import portal_cmd
from arcollect.local.emulator import Emulator
from arcollect.local.state import LocalState, write_local_state
from shared.clock import clock_for
from shared.ledger.importer import build_importer
from shared.portal.access import open_session
from shared.security.links import LinkSigner, load_signing_keys, new_secret_value, secrets_manager_fetch
from shared.settings import RuntimeSettings, stage_names

LOCAL_URL = "http://127.0.0.1:8123"
STAGE_PORTAL = "https://portal.example.com"
CUSTOMERS = """customer_id,legal_name,ap_email,currency,terms_days
ALPHA,Alpha Widgets Inc,ap@alpha.example.com,USD,30
"""

runner = CliRunner()


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("version")(lambda: None)  # a second command, so Typer keeps `portal-link` as a subcommand
    portal_cmd.register(app)
    return app


def portal_link(*args: str) -> Any:
    return runner.invoke(cli(), ["portal-link", *args])


def signer_of(secrets: Any, stage: str) -> LinkSigner:
    return LinkSigner(load_signing_keys(stage_names(stage).link_secret_name, secrets_manager_fetch(secrets)))


def import_customers(settings: RuntimeSettings) -> None:
    report = build_importer(settings, clock_for(None)).import_file("customers", CUSTOMERS.encode(), source="c.csv")
    assert not report.rejected, report.problems


@pytest.fixture
def local_system(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """A running local system as the CLI finds it (`.arcollect/local.json` here), its link key provisioned."""
    monkeypatch.chdir(tmp_path)
    deployment = emulator.deployment
    state = LocalState(
        api_url=LOCAL_URL,
        endpoint_url=emulator.endpoint_url,
        region=deployment.region,
        table_prefix=deployment.table_prefix,
        stage=deployment.stage,
        tin_key_id=deployment.tin_key_alias,
        tin_mac_key_id=deployment.tin_mac_key_alias,
        ingest_bucket=deployment.ingest_bucket,
        pid=os.getpid(),
        started_at=datetime(2026, 11, 22, 9, tzinfo=UTC),
    )
    write_local_state(state, tmp_path)
    emulator.client("secretsmanager").create_secret(
        Name=stage_names(deployment.stage).link_secret_name, SecretString=new_secret_value("k1")
    )
    import_customers(state.settings())
    return emulator


@pytest.fixture
def deployed_stage(aws: None, settings: RuntimeSettings) -> RuntimeSettings:
    """A deployed stage `test` with its link key and a customer, but (yet) no stack."""
    boto3.client("secretsmanager", region_name=settings.region).create_secret(
        Name=stage_names(settings.stage).link_secret_name, SecretString=new_secret_value("k1")
    )
    import_customers(settings)
    return settings


def deploy_stack_with_portal_url(settings: RuntimeSettings, url: str) -> None:
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}, "Outputs": {"PortalUrl": {"Value": url}}}
    boto3.client("cloudformation", region_name=settings.region).create_stack(
        StackName=stage_names(settings.stage).prefix, TemplateBody=json.dumps(template)
    )


# --- against the local system ----------------------------------------------------------------------------


def test_the_link_opens_the_local_systems_page_and_signs_the_customer_in(local_system: Emulator) -> None:
    result = portal_link("ALPHA")

    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url.startswith(f"{LOCAL_URL}/?link=")
    assert len(result.output.splitlines()) == 1
    token = url.split("?link=", 1)[1]
    session = open_session(
        token, signer_of(local_system.client("secretsmanager"), local_system.deployment.stage), datetime.now(UTC)
    )
    assert session.customer_id == "ALPHA"


def test_json_gives_the_url_the_token_and_an_expiry_two_weeks_ahead(local_system: Emulator) -> None:
    result = portal_link("ALPHA", "--json")

    assert result.exit_code == 0, result.output
    link = json.loads(result.output)
    assert set(link) == {"url", "link_token", "expires_at"}
    assert link["url"] == f"{LOCAL_URL}/?link={link['link_token']}"
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(days=13) < expires - datetime.now(UTC) <= timedelta(days=14)


def test_an_unknown_customer_exits_1_saying_so_and_prints_no_link(local_system: Emulator) -> None:
    result = portal_link("NOBODY")

    assert result.exit_code == 1
    assert "customer NOBODY is not known" in result.output
    assert "?link=" not in result.output


def test_an_unknown_customer_with_json_is_an_error_document(local_system: Emulator) -> None:
    result = portal_link("NOBODY", "--json")

    assert result.exit_code == 1
    assert json.loads(result.output)["error"]["message"] == "customer NOBODY is not known"


# --- against a deployed stage ----------------------------------------------------------------------------


def test_a_deployed_stage_links_to_the_portal_its_stack_names(deployed_stage: RuntimeSettings) -> None:
    deploy_stack_with_portal_url(deployed_stage, STAGE_PORTAL)

    result = portal_link("ALPHA", "--stage", "test", "--json")

    assert result.exit_code == 0, result.output
    link = json.loads(result.output)
    assert link["url"] == f"{STAGE_PORTAL}/?link={link['link_token']}"
    secrets = boto3.client("secretsmanager", region_name=deployed_stage.region)
    assert signer_of(secrets, "test").verify(link["link_token"], "portal", datetime.now(UTC)).customer_id == "ALPHA"


def test_a_stage_whose_portal_address_is_unknown_exits_1_and_says_why(deployed_stage: RuntimeSettings) -> None:
    result = portal_link("ALPHA", "--stage", "test")

    assert result.exit_code == 1
    assert "portal's address of stage test is not known" in result.output
    assert "?link=" not in result.output


def test_a_stage_without_its_link_key_exits_1_naming_the_secret(aws: None, settings: RuntimeSettings) -> None:
    import_customers(settings)
    deploy_stack_with_portal_url(settings, STAGE_PORTAL)

    result = portal_link("ALPHA", "--stage", "test")

    assert result.exit_code == 1
    assert stage_names("test").link_secret_name in result.output
