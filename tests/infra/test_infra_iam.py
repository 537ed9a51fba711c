"""Least privilege: no wildcard actions, no bucket- or table-wide power, one role per function."""

from __future__ import annotations

from typing import Any

from synthesized_app import Grants, Synthesized, function_basics, table_grants

from shared.settings import stage_names

# No resource-level permissions exist for these: X-Ray, and the log delivery a state machine sets up.
ACTIONS_WITHOUT_RESOURCES = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
}
LEDGER_TABLES = {"customers", "tin_claims", "invoices", "payments", "credit_notes", "activities", "imports"}
# Item-level access only: no Scan, no DeleteItem, nothing that changes a table itself.
ITEM_READS = {
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
}
ITEM_WRITES = {"dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
# Email as the sender (its address or its domain) through the reminders' configuration set only.
SES_ARN = "arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>"
SENDER: Grants = {
    ("Allow", action, f"{SES_ARN}:{resource}")
    for action in ("ses:SendEmail", "ses:SendRawEmail")
    for resource in ("identity/ar@example.com", "identity/example.com", "configuration-set/arcollect-dev-reminders")
}
STATES_ARN = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _all_statements(synth: Synthesized) -> list[dict[str, Any]]:
    statements = [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    statements += [
        statement
        for role in synth.resources("AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    return statements


def _references(resource: Any) -> set[str]:
    """Logical ids a policy resource points at (GetAtt/Ref, also inside Fn::Join)."""
    if isinstance(resource, dict):
        if "Fn::GetAtt" in resource:
            return {resource["Fn::GetAtt"][0]}
        if "Ref" in resource:
            return {resource["Ref"]}
        return {ref for value in resource.values() for ref in _references(value)}
    if isinstance(resource, list):
        return {ref for value in resource for ref in _references(value)}
    return set()


def _ingest_statements(synth: Synthesized) -> list[dict[str, Any]]:
    return synth.statements(synth.role_id(synth.our_functions()["ledger_ingest"]))


def test_no_statement_allows_every_action_of_a_service(dev: Synthesized) -> None:
    for statement in _all_statements(dev):
        for action in _as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), statement


def _policy_documents(synth: Synthesized) -> list[list[dict[str, Any]]]:
    documents = [policy["Properties"]["PolicyDocument"] for policy in synth.resources("AWS::IAM::Policy").values()]
    documents += [
        policy["PolicyDocument"]
        for role in synth.resources("AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
    ]
    return [document["Statement"] for document in documents]


def _denies_publishing_to_every_sns_arn(statements: list[dict[str, Any]]) -> bool:
    every_sns_arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sns:*:*:*"]]}
    return any(
        s["Effect"] == "Deny" and s["Action"] == "sns:Publish" and s["Resource"] == every_sns_arn for s in statements
    )


def test_only_what_has_no_resource_arn_is_granted_on_every_resource(dev: Synthesized) -> None:
    """SMS to a phone number has no ARN: sns:Publish on "*" only beside a deny on every topic and endpoint."""
    for statements in _policy_documents(dev):
        allowed = ACTIONS_WITHOUT_RESOURCES | (
            {"sns:Publish"} if _denies_publishing_to_every_sns_arn(statements) else set()
        )
        for statement in statements:
            if statement["Effect"] == "Allow" and "*" in _as_list(statement["Resource"]):
                assert set(_as_list(statement["Action"])) <= allowed, statement


def test_ingest_reads_only_incoming_and_writes_only_reports(dev: Synthesized) -> None:
    s3_statements = [s for s in _ingest_statements(dev) if any(a.startswith("s3:") for a in _as_list(s["Action"]))]
    grants = {(tuple(_as_list(s["Action"])), s["Resource"]["Fn::Join"][1][-1]) for s in s3_statements}
    assert grants == {(("s3:GetObject",), "/incoming/*"), (("s3:PutObject",), "/reports/*")}


def test_ingest_reaches_only_the_ledger_tables_and_never_scans(dev: Synthesized) -> None:
    table_ids = {
        logical_id: table["Properties"]["TableName"].removeprefix("arcollect-dev-")
        for logical_id, table in dev.resources("AWS::DynamoDB::Table").items()
    }
    dynamodb = [s for s in _ingest_statements(dev) if any(a.startswith("dynamodb:") for a in _as_list(s["Action"]))]
    reached = {table_ids[ref] for s in dynamodb for ref in _references(s["Resource"])}
    actions = {a for s in dynamodb for a in _as_list(s["Action"])}

    assert reached == LEDGER_TABLES
    assert actions == ITEM_READS | ITEM_WRITES


def _key_id(synth: Synthesized, description: str) -> str:
    return next(
        lid for lid, key in synth.resources("AWS::KMS::Key").items() if key["Properties"]["Description"] == description
    )


def test_ingest_may_only_take_tin_data_keys_and_fingerprint_macs(dev: Synthesized) -> None:
    kms = [s for s in _ingest_statements(dev) if any(a.startswith("kms:") for a in _as_list(s["Action"]))]
    tin_key = _key_id(dev, "Encrypts customers' TINs")
    mac_key = next(
        lid for lid, key in dev.resources("AWS::KMS::Key").items() if "Fingerprints" in key["Properties"]["Description"]
    )
    on_tin_keys = {
        action: statement.get("Condition")
        for statement in kms
        if _references(statement["Resource"]) & {tin_key, mac_key}
        for action in _as_list(statement["Action"])
    }

    assert on_tin_keys == {
        "kms:GenerateDataKey": {"StringEquals": {"kms:EncryptionContext:purpose": "arcollect-tin"}},
        "kms:GenerateMac": {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}},
    }


def test_only_the_onboarding_step_may_decrypt_a_tin_and_only_data_keys_made_for_tins(dev: Synthesized) -> None:
    """Its checks (the TIN rules, the registry) need the TIN in clear; no other function ever sees one."""
    tin_key = _key_id(dev, "Encrypts customers' TINs")
    decrypting = {
        role_id: [
            statement.get("Condition")
            for statement in dev.statements(role_id)
            if tin_key in _references(statement["Resource"]) and "kms:Decrypt" in _as_list(statement["Action"])
        ]
        for role_id in dev.resources("AWS::IAM::Role")
    }
    step_role = dev.role_id(dev.our_functions()["onboarding_step"])

    assert {role_id: conditions for role_id, conditions in decrypting.items() if conditions} == {
        step_role: [{"StringEquals": {"kms:EncryptionContext:purpose": "arcollect-tin"}}]
    }


def test_the_onboarding_step_holds_exactly_what_its_steps_take(dev: Synthesized) -> None:
    """Validate (TIN, claim, suppression list), the verification email and token (answered by the step itself
    when there is nothing to wait for), activation, and the task and timeline entry of a customer who needs
    attention."""
    assert dev.grants(dev.role_id(dev.our_functions()["onboarding_step"])) == (
        function_basics("onboarding_step")
        | table_grants(["customers", "email_verifications", "tasks", "activities"], write=True)
        | table_grants(["tin_claims", "suppressions"], write=False)
        | {("Allow", "kms:Decrypt", "key/tin")}
        | SENDER
        | {
            (
                "Allow",
                "states:SendTaskSuccess",
                f"{STATES_ARN}:stateMachine:{stage_names('dev').onboarding_state_machine}",
            )
        }
    )


def test_the_onboarding_sweep_holds_exactly_what_invitations_and_restarts_take(dev: Synthesized) -> None:
    """The due customers (customers' onboarding_due_index) and their timeline, signed invitation links sent as
    the sender, and starting a validation again (stopping the one it replaces)."""
    machine = stage_names("dev").onboarding_state_machine

    assert dev.grants(dev.role_id(dev.our_functions()["onboarding_sweep"])) == (
        function_basics("onboarding_sweep")
        | table_grants(["customers", "activities"], write=True)
        | {("Allow", "secretsmanager:GetSecretValue", "secret/link-signing")}
        | SENDER
        | {
            ("Allow", "states:StartExecution", "state-machine/onboarding"),
            ("Allow", "states:StopExecution", f"{STATES_ARN}:execution:{machine}:*"),
        }
    )
