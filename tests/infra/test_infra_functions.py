"""Every arcollect function: Python 3.13 on arm64, its own role and log group, traced, configured."""

from __future__ import annotations

import pytest
from synthesized_app import Synthesized

from shared.settings import RuntimeSettings, variable

FUNCTIONS = {
    "api",
    "ledger_ingest",
    "dunning_plan",
    "dunning_dispatch",
    "dunning_finish",
    "dunning_send_retry",
    "email_feedback",
    "portal_authorizer",
    "portal_link_requests",
    "onboarding_step",
    "onboarding_sweep",
}
# Only the emulator sets an endpoint (in AWS the SDK finds the real one) and only the local system moves today;
# the wait for the verification click has its default in code, and only local systems stub the external checks.
SETTINGS_NOT_SET_IN_AWS = {"endpoint_url", "today", "onboarding_click_wait_s", "external_checks"}
# Dunning settings go only to the functions that read them.
SENDING_SETTINGS = {
    "documents_bucket",
    "sender_email",
    "seller_name",
    "portal_url",
    "link_secret_id",
    "send_retry_queue_url",
    "ses_configuration_set",
}
# Set only on the functions that read them, like the sending settings.
PORTAL_SETTINGS = {"link_request_queue_url", "onboarding_state_machine_arn", "onboarding_sweep_function"}
DUNNING_SETTINGS = {
    "dunning_plan": {"documents_bucket"},
    "dunning_dispatch": SENDING_SETTINGS,
    "dunning_send_retry": SENDING_SETTINGS,
    "dunning_finish": {"send_retry_queue_url"},
    # The SMS fallback carries a signed portal link.
    "email_feedback": {"seller_name", "portal_url", "link_secret_id", "send_retry_queue_url"},
    # PDFs under the seller's name, staff links to the page, sessions, the sign-in link request queue,
    # validations started and staff invitations sent through the sweep.
    "api": {
        "seller_name",
        "portal_url",
        "link_secret_id",
        "link_request_queue_url",
        "onboarding_state_machine_arn",
        "onboarding_sweep_function",
    },
    "portal_authorizer": {"link_secret_id"},
    "portal_link_requests": {"sender_email", "seller_name", "portal_url", "link_secret_id", "ses_configuration_set"},
    # Onboarding emails like a reminder; the sweep signs invitation links and starts validations.
    "onboarding_step": {"sender_email", "seller_name", "portal_url", "ses_configuration_set"},
    "onboarding_sweep": {
        "sender_email",
        "seller_name",
        "portal_url",
        "ses_configuration_set",
        "link_secret_id",
        "onboarding_state_machine_arn",
    },
}


def test_the_stack_has_our_functions(dev: Synthesized) -> None:
    assert set(dev.our_functions()) == FUNCTIONS


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_runs_python_3_13_on_arm64_traced(dev: Synthesized, name: str) -> None:
    properties = dev.our_functions()[name]["Properties"]

    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == f"functions.{name}.handler.handler"
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert len(properties["Layers"]) == 1


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_sets_every_runtime_setting_it_reads_and_powertools(dev: Synthesized, name: str) -> None:
    variables = dev.our_functions()[name]["Properties"]["Environment"]["Variables"]

    everywhere = set(RuntimeSettings.names()) - SETTINGS_NOT_SET_IN_AWS - SENDING_SETTINGS - PORTAL_SETTINGS
    expected = {variable(field) for field in everywhere | DUNNING_SETTINGS.get(name, set())}
    assert {name for name in variables if name.startswith("ARCOLLECT_")} == expected
    assert variables["ARCOLLECT_STAGE"] == "dev"
    assert variables["ARCOLLECT_TABLE_PREFIX"] == "arcollect-dev-"
    assert variables["POWERTOOLS_SERVICE_NAME"] == name
    assert variables["POWERTOOLS_LOG_LEVEL"] in {"DEBUG", "INFO"}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_logs_to_its_own_log_group_with_the_stage_retention(stage: Synthesized, name: str) -> None:
    properties = stage.our_functions()[name]["Properties"]
    log_group_id = properties["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = stage.resource(log_group_id)

    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["LogGroupName"] == f"/aws/lambda/{properties['FunctionName']}"
    assert log_group["Properties"]["RetentionInDays"] == (365 if stage.config.is_production else 14)


def test_every_function_has_a_role_of_its_own(dev: Synthesized) -> None:
    functions = dev.resources("AWS::Lambda::Function")
    roles = [dev.role_id(function) for function in functions.values()]
    assert len(set(roles)) == len(roles) == len(functions)


def test_the_dependencies_layer_is_built_for_the_same_platform(dev: Synthesized) -> None:
    # Ours, not the AWS CLI layer of CDK's page-deployment function.
    (layer_id,) = {ref["Ref"] for function in dev.our_functions().values() for ref in function["Properties"]["Layers"]}
    layer = dev.resource(layer_id)
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_errors_raise_an_alarm(dev: Synthesized, name: str) -> None:
    function_id = dev.our_function_ids()[name]
    alarms = [
        alarm["Properties"]
        for alarm in dev.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "Errors"
        and {"Name": "FunctionName", "Value": {"Ref": function_id}} in alarm["Properties"]["Dimensions"]
    ]
    assert len(alarms) == 1
    assert alarms[0]["AlarmActions"]
