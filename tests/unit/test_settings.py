from shared.settings import RuntimeSettings


def test_settings_come_from_arcollect_variables_and_keep_defaults_for_the_rest() -> None:
    settings = RuntimeSettings.from_environment(
        {
            "ARCOLLECT_STAGE": "prod",
            "ARCOLLECT_TABLE_PREFIX": "arcollect-prod-",
            "ARCOLLECT_ENDPOINT_URL": "",
            "PATH": "/bin",
        }
    )
    assert (settings.stage, settings.table_prefix, settings.endpoint_url) == ("prod", "arcollect-prod-", None)
    assert settings.region == "us-east-1"


def test_settings_survive_a_round_trip_through_the_environment() -> None:
    settings = RuntimeSettings(stage="local", endpoint_url="http://127.0.0.1:5000", ingest_bucket="b")
    assert RuntimeSettings.from_environment(settings.as_environment()) == settings
    assert "ARCOLLECT_ENDPOINT_URL" in settings.as_environment()
    assert "ARCOLLECT_INGEST_BUCKET" not in RuntimeSettings().as_environment()
