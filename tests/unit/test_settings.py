import dataclasses

import pytest

from shared.settings import RuntimeSettings, SettingsError, StageNames, stage_names

DEPLOYED = {
    "ARCOLLECT_STAGE": "prod",
    "ARCOLLECT_TABLE_PREFIX": "arcollect-prod-",
    "ARCOLLECT_REGION": "eu-west-1",
    "ARCOLLECT_TIN_KEY_ID": "arn:aws:kms:eu-west-1:123456789012:key/tin",
    "ARCOLLECT_TIN_MAC_KEY_ID": "arn:aws:kms:eu-west-1:123456789012:key/tin-mac",
    "ARCOLLECT_INGEST_BUCKET": "arcollect-prod-ingestbucket-abc",
}


def test_settings_come_from_the_arcollect_variables_and_ignore_the_rest() -> None:
    settings = RuntimeSettings.from_environment(DEPLOYED | {"ARCOLLECT_ENDPOINT_URL": "", "PATH": "/bin"})

    assert (settings.stage, settings.table_prefix, settings.region) == ("prod", "arcollect-prod-", "eu-west-1")
    assert settings.tin_key_id.endswith("key/tin") and settings.endpoint_url is None


def test_a_function_missing_a_variable_stops_and_names_every_missing_one() -> None:
    environ = {k: v for k, v in DEPLOYED.items() if k not in {"ARCOLLECT_TABLE_PREFIX", "ARCOLLECT_TIN_MAC_KEY_ID"}}

    with pytest.raises(SettingsError) as raised:
        RuntimeSettings.from_environment(environ | {"ARCOLLECT_STAGE": ""})

    message = str(raised.value)
    assert "ARCOLLECT_TABLE_PREFIX" in message and "ARCOLLECT_TIN_MAC_KEY_ID" in message
    assert "ARCOLLECT_STAGE" in message  # empty is missing, not "the dev stage"
    assert "ARCOLLECT_REGION" not in message


def test_no_setting_that_names_a_deployment_has_a_default() -> None:
    assert set(RuntimeSettings.required_names()) == {"stage", "table_prefix", "region", "tin_key_id", "tin_mac_key_id"}
    with pytest.raises(SettingsError):
        RuntimeSettings.from_environment({})


def test_settings_survive_a_round_trip_through_the_environment() -> None:
    settings = stage_names("local").settings(
        region="us-east-1", endpoint_url="http://127.0.0.1:5000", ingest_bucket="arcollect-local-ingest"
    )

    assert RuntimeSettings.from_environment(settings.as_environment()) == settings
    assert "ARCOLLECT_ENDPOINT_URL" in settings.as_environment()
    assert "ARCOLLECT_INGEST_BUCKET" not in dataclasses.replace(settings, ingest_bucket=None).as_environment()


def test_a_stage_names_its_tables_keys_queues_and_functions_one_way() -> None:
    names = stage_names("prod")

    assert names.table_prefix == "arcollect-prod-" and names.table("invoices") == "arcollect-prod-invoices"
    assert (names.tin_key_alias, names.tin_mac_key_alias) == (
        "alias/arcollect-prod-tin",
        "alias/arcollect-prod-tin-mac",
    )
    assert names.key_alias("data") == "alias/arcollect-prod-data"
    assert names.ledger_ingest_queue == "arcollect-prod-ledger-ingest"
    assert names.ledger_ingest_dead_letter_queue == "arcollect-prod-ledger-ingest-dlq"
    assert names.function("ledger_ingest") == "arcollect-prod-ledger-ingest"


def test_settings_built_from_a_stage_use_its_names() -> None:
    settings = stage_names("dev").settings(region="eu-central-1")

    assert (settings.stage, settings.table_prefix, settings.region) == ("dev", "arcollect-dev-", "eu-central-1")
    assert (settings.tin_key_id, settings.tin_mac_key_id) == ("alias/arcollect-dev-tin", "alias/arcollect-dev-tin-mac")
    assert settings.endpoint_url is None and settings.ingest_bucket is None


@pytest.mark.parametrize("stage", ["", "Prod", "p", "dev-1", "a" * 13, "1dev"])
def test_a_stage_name_that_cannot_prefix_every_resource_is_refused(stage: str) -> None:
    with pytest.raises(ValueError, match="lowercase letters or digits"):
        StageNames(stage)
