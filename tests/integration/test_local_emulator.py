"""The pieces of `arcollect local` against a real moto server in this process: provisioning, Lambda
routed to our handlers (directly and from a state machine), the local API Gateway, the outbox, and the
`outbox` command."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from arcollect.cli import local_cmd
from arcollect.local import lambda_router, outbox
from arcollect.local.emulator import Emulator
from arcollect.local.gateway import LocalGateway
from arcollect.local.state import LocalState, load_local_state, remove_local_state, write_local_state
from shared.data.schema import all_table_specs
from shared.settings import runtime_settings

ACCOUNT = "123456789012"


class Boom(Exception):
    """What the test function raises: its class name is the errorType a Catch clause matches."""


def echo(event: Any, context: Any) -> dict[str, Any]:
    return {"event": event, "function_name": context.function_name, "request_id": context.aws_request_id}


def boom(event: Any, context: Any) -> None:
    raise Boom(f"refused {event.get('invoice_id')}")


@pytest.fixture
def emulator(emulator: Emulator) -> Emulator:
    """The shared emulator (tests/integration/conftest.py), its endpoint exported as the CLI and the
    handlers find it (the shared fixture restores the environment afterwards)."""
    emulator.export_environment()
    return emulator


@pytest.fixture
def router(emulator: Emulator) -> Iterator[lambda_router.LambdaRouter]:
    router = lambda_router.LambdaRouter("arcollect-local-", {"echo": echo, "boom": boom})
    lambda_router.install(router)
    router.provision(emulator.client("iam"), emulator.client("lambda"))
    try:
        yield router
    finally:
        lambda_router.uninstall()


def wait_for_execution(sfn: Any, execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        execution: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        if time.monotonic() > deadline:
            raise AssertionError(f"execution still running after {timeout} s")
        time.sleep(0.05)


# --- provisioning --------------------------------------------------------------------------------------


def test_tables_keys_sender_and_bucket_are_provisioned_from_the_specs(emulator: Emulator) -> None:
    dynamodb = emulator.client("dynamodb")
    for spec in all_table_specs():
        table = dynamodb.describe_table(TableName=f"arcollect-local-{spec.key}")["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["KeySchema"][0] == {"AttributeName": spec.partition_key.name, "KeyType": "HASH"}
        indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {index.name for index in spec.indexes}
        for index in spec.indexes:
            assert indexes[index.name]["Projection"]["ProjectionType"] == index.projection
        ttl = dynamodb.describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
        if spec.ttl_attribute:
            assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", spec.ttl_attribute)

    kms = emulator.client("kms")
    settings = runtime_settings()
    assert kms.describe_key(KeyId=settings.tin_key_id)["KeyMetadata"]["KeyUsage"] == "ENCRYPT_DECRYPT"
    mac_key = kms.describe_key(KeyId=settings.tin_mac_key_id)["KeyMetadata"]
    assert (mac_key["KeySpec"], mac_key["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    ciphertext = kms.encrypt(KeyId=settings.tin_key_id, Plaintext=b"12-3456789")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"12-3456789"

    ses = emulator.client("ses")
    assert ses.list_identities()["Identities"] == ["ar@arcollect.local"]
    emulator.client("s3").head_bucket(Bucket="arcollect-local-ingest")
    assert (settings.stage, settings.endpoint_url) == ("local", emulator.endpoint_url)


# --- Lambda routed to our handlers ---------------------------------------------------------------------


def test_lambda_invoke_reaches_the_registered_handler(emulator: Emulator, router: lambda_router.LambdaRouter) -> None:
    response = emulator.client("lambda").invoke(
        FunctionName="arcollect-local-echo", Payload=json.dumps({"invoice_id": "INV-1"})
    )
    assert "FunctionError" not in response
    body = json.loads(response["Payload"].read())
    assert body["event"] == {"invoice_id": "INV-1"}
    assert body["function_name"] == "arcollect-local-echo"


def test_a_handler_exception_is_an_unhandled_function_error(
    emulator: Emulator, router: lambda_router.LambdaRouter
) -> None:
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:arcollect-local-boom"
    response = emulator.client("lambda").invoke(FunctionName=arn, Payload=json.dumps({"invoice_id": "INV-2"}))
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("Boom", "refused INV-2")


def test_the_default_registry_routes_the_api_function_to_the_real_handler(emulator: Emulator) -> None:
    router = lambda_router.LambdaRouter("arcollect-local-")
    lambda_router.install(router)
    try:
        router.provision(emulator.client("iam"), emulator.client("lambda"))
        event = {"path": "/health", "httpMethod": "GET", "headers": {}, "requestContext": {"requestId": "r1"}}
        response = emulator.client("lambda").invoke(FunctionName="arcollect-local-api", Payload=json.dumps(event))
    finally:
        lambda_router.uninstall()
    result = json.loads(response["Payload"].read())
    assert (result["statusCode"], json.loads(result["body"])) == (200, {"status": "ok"})


def test_a_state_machine_catches_a_task_failure_by_its_error_type(
    emulator: Emulator, router: lambda_router.LambdaRouter
) -> None:
    definition = {
        "StartAt": "Charge",
        "States": {
            "Charge": {
                "Type": "Task",
                "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:arcollect-local-boom",
                "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Recorded"}],
                "Next": "Done",
            },
            "Recorded": {"Type": "Pass", "Result": "caught", "ResultPath": "$.outcome", "End": True},
            "Done": {"Type": "Succeed"},
        },
    }
    sfn = emulator.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="catch-test", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn"
    )
    started = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps({"invoice_id": "I9"}))

    execution = wait_for_execution(sfn, started["executionArn"])

    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["outcome"] == "caught"
    assert output["error"]["Error"] == "Boom"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "refused I9"


# --- the local API Gateway -----------------------------------------------------------------------------


def http(
    url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None, method: str | None = None
) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def captured_gateway() -> Iterator[tuple[LocalGateway, list[dict[str, Any]]]]:
    events: list[dict[str, Any]] = []

    def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        return {
            "statusCode": 201,
            "headers": {"Content-Type": "application/pdf"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": base64.b64encode(b"%PDF-1.7 binary\x00\xff").decode(),
            "isBase64Encoded": True,
        }

    def allow_all(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # The portal authorizer's part is tested on its own (tests/unit/test_local_authorizer.py).
        statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}
        return {"principalId": "C-1", "policyDocument": {"Statement": [statement]}, "context": {"customer_id": "C-1"}}

    gateway = LocalGateway(region="us-east-1", account_id=ACCOUNT, api_handler=api, authorizer_handler=allow_all)
    gateway.start()
    try:
        yield gateway, events
    finally:
        gateway.stop()


def test_a_request_becomes_a_rest_proxy_event_and_the_result_a_response(
    captured_gateway: tuple[LocalGateway, list[dict[str, Any]]],
) -> None:
    gateway, events = captured_gateway
    status, headers, body = http(
        f"{gateway.url}/portal/invoices/INV-1/pdf?status=open&tag=a&tag=b",
        headers={"Authorization": "Bearer tok", "X-Custom": "yes"},
    )
    assert (status, body) == (201, b"%PDF-1.7 binary\x00\xff")
    assert headers["Content-Type"] == "application/pdf"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]

    event = events[0]
    assert (event["httpMethod"], event["path"]) == ("GET", "/portal/invoices/INV-1/pdf")
    assert event["queryStringParameters"] == {"status": "open", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"status": ["open"], "tag": ["a", "b"]}
    assert event["headers"]["Authorization"] == "Bearer tok"
    assert event["multiValueHeaders"]["X-Custom"] == ["yes"]
    assert (event["body"], event["isBase64Encoded"]) == (None, False)
    context = event["requestContext"]
    assert context["stage"] == "local" and context["requestId"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userArn"] is None  # not signed: not a staff caller


def test_text_bodies_arrive_as_text_and_binary_bodies_base64_encoded(
    captured_gateway: tuple[LocalGateway, list[dict[str, Any]]],
) -> None:
    gateway, events = captured_gateway
    http(
        f"{gateway.url}/portal/me",
        data=b'{"ap_email": "ap@acme-corp.com"}',
        method="PUT",
        headers={"Content-Type": "application/json", "Authorization": "Bearer tok"},
    )
    http(
        f"{gateway.url}/upload",
        data=b"\x89PNG\x00\xff",
        method="POST",
        headers={"Content-Type": "application/octet-stream"},
    )
    text_event, binary_event = events
    assert (text_event["body"], text_event["isBase64Encoded"]) == ('{"ap_email": "ap@acme-corp.com"}', False)
    assert binary_event["isBase64Encoded"] is True
    assert base64.b64decode(binary_event["body"]) == b"\x89PNG\x00\xff"


def test_a_sigv4_signed_request_stands_for_an_iam_authorised_staff_caller(
    captured_gateway: tuple[LocalGateway, list[dict[str, Any]]],
) -> None:
    gateway, events = captured_gateway
    signature = "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20261122/us-east-1/execute-api/aws4_request, Signature=x"
    http(f"{gateway.url}/staff/worklist", headers={"Authorization": signature})
    identity = events[0]["requestContext"]["identity"]
    assert identity["accessKey"] == "AKIDLOCAL"
    assert identity["userArn"] == f"arn:aws:iam::{ACCOUNT}:user/local-staff"


def test_the_real_api_answers_health_and_the_index_page_links_it() -> None:
    gateway = LocalGateway(region="us-east-1", account_id=ACCOUNT)
    gateway.start()
    try:
        status, _, body = http(f"{gateway.url}/health")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        status, headers, page = http(f"{gateway.url}/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert b'href="/health"' in page and b'href="/_local/outbox"' in page
    finally:
        gateway.stop()


def test_a_handler_crash_is_a_502_like_api_gateway_not_a_traceback() -> None:
    def crash(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("secret stack detail")

    gateway = LocalGateway(region="us-east-1", account_id=ACCOUNT, api_handler=crash)
    gateway.start()
    try:
        status, _, body = http(f"{gateway.url}/anything")
    finally:
        gateway.stop()
    assert status == 502 and b"secret" not in body


# --- the outbox ----------------------------------------------------------------------------------------


def send_samples(emulator: Emulator) -> None:
    ses = emulator.client("ses")
    reminder = EmailMessage()
    reminder["From"] = "Accounts Receivable <ar@arcollect.local>"
    reminder["To"] = "AP Team <ap@brightwater-supply.com>"
    reminder["Subject"] = "Invoice INV-10001 is 3 days past due"
    reminder[outbox.CUSTOMER_HEADER] = "CUST-0001"
    reminder[outbox.INVOICES_HEADER] = "INV-10001, INV-10002"
    reminder[outbox.STEPS_HEADER] = "late_1"
    reminder.set_content("Pay online: https://portal.arcollect.local/p/abc123\nThank you.")
    reminder.add_alternative('<p>Pay <a href="https://portal.arcollect.local/p/abc123">online</a></p>', subtype="html")
    reminder.add_attachment(b"%PDF-1.7", maintype="application", subtype="pdf", filename="INV-10001.pdf")
    ses.send_raw_email(RawMessage={"Data": reminder.as_bytes()})
    ses.send_email(
        Source="ar@arcollect.local",
        Destination={"ToAddresses": ["invoices@cedar-ridge-labs.com"]},
        Message={
            "Subject": {"Data": "Verify your address"},
            "Body": {
                "Html": {"Data": '<p>Confirm: <a href="http://127.0.0.1:8000/onboarding/verify?token=t1">here</a></p>'}
            },
        },
    )
    emulator.client("sns").publish(PhoneNumber="+14155550123", Message="INV-10001 is overdue: https://p.example.org/x")


def test_the_outbox_lists_what_ses_and_sns_sent_in_order(emulator: Emulator) -> None:
    outbox.start_recording("us-east-1")
    send_samples(emulator)

    messages = outbox.read_outbox("us-east-1")

    reminder, verification, sms = (m.to_json() for m in messages)
    assert reminder == {
        "channel": "email",
        "to": "ap@brightwater-supply.com",
        "subject": "Invoice INV-10001 is 3 days past due",
        "body_text": "Pay online: https://portal.arcollect.local/p/abc123\nThank you.",
        "attachments": ["INV-10001.pdf"],
        "links": ["https://portal.arcollect.local/p/abc123"],
        "customer_id": "CUST-0001",
        "invoice_ids": ["INV-10001", "INV-10002"],
        "steps": ["late_1"],
        "sent_at": reminder["sent_at"],
        "cc": [],
        "message_id": reminder["message_id"],
    }
    assert verification["body_text"] == "Confirm: here"
    assert verification["links"] == ["http://127.0.0.1:8000/onboarding/verify?token=t1"]
    assert (verification["customer_id"], verification["invoice_ids"], verification["steps"]) == (None, None, None)
    assert (sms["channel"], sms["to"], sms["subject"]) == ("sms", "+14155550123", None)
    assert sms["links"] == ["https://p.example.org/x"]
    stamps = [reminder["sent_at"], verification["sent_at"], sms["sent_at"]]
    assert all(stamps) and stamps == sorted(stamps)
    assert [m.to for m in outbox.read_outbox("us-east-1", to="AP@Brightwater-Supply.com")] == [
        "ap@brightwater-supply.com"
    ]


# --- local.json and the `outbox` command ---------------------------------------------------------------


def local_state(api_url: str, endpoint_url: str, pid: int) -> LocalState:
    return LocalState(
        api_url=api_url,
        endpoint_url=endpoint_url,
        region="us-east-1",
        table_prefix="arcollect-local-",
        stage="local",
        tin_key_id="alias/arcollect-local-tin",
        tin_mac_key_id="alias/arcollect-local-tin-mac",
        ingest_bucket="arcollect-local-ingest",
        pid=pid,
        started_at="2026-11-22T09:00:00Z",
        today="2026-11-22",
    )


def test_local_state_is_found_only_while_its_process_lives(tmp_path: Path) -> None:
    assert load_local_state(tmp_path) is None
    write_local_state(local_state("http://127.0.0.1:1", "http://127.0.0.1:2", os.getpid()), tmp_path)
    found = load_local_state(tmp_path)
    assert found is not None and found.outbox_url == "http://127.0.0.1:1/_local/outbox"
    assert str(found.today) == "2026-11-22"

    dead_pid = 2**22 + 12345  # above Linux's pid_max default: no such process
    write_local_state(local_state("http://127.0.0.1:1", "http://127.0.0.1:2", dead_pid), tmp_path)
    assert load_local_state(tmp_path) is None
    remove_local_state(tmp_path, pid=os.getpid())  # someone else's file: left alone
    assert (tmp_path / ".arcollect" / "local.json").exists()
    remove_local_state(tmp_path)
    assert not (tmp_path / ".arcollect" / "local.json").exists()


def cli() -> typer.Typer:
    """A throwaway app: the commands as `register` adds them, without the rest of `arcollect`."""
    app = typer.Typer()
    local_cmd.register(app)
    return app


def test_outbox_without_a_running_local_system_is_a_clear_failure(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli(), ["outbox"])
    assert result.exit_code == 1
    assert "no local system is running" in result.output
    result = CliRunner().invoke(cli(), ["outbox", "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["error"]["message"]


def test_outbox_command_prints_the_running_systems_messages(
    emulator: Emulator, tmp_path: Path, monkeypatch: Any
) -> None:
    outbox.start_recording("us-east-1")
    send_samples(emulator)
    gateway = LocalGateway(region="us-east-1", account_id=ACCOUNT)
    gateway.start()
    try:
        write_local_state(local_state(gateway.url, emulator.endpoint_url, os.getpid()), tmp_path)
        monkeypatch.chdir(tmp_path)
        runner = CliRunner()

        as_json = runner.invoke(cli(), ["outbox", "--json"])
        filtered = runner.invoke(cli(), ["outbox", "--to", "+14155550123", "--json"])
        table = runner.invoke(cli(), ["outbox"])
    finally:
        gateway.stop()

    assert as_json.exit_code == 0, as_json.output
    messages = json.loads(as_json.output)
    assert [m["channel"] for m in messages] == ["email", "email", "sms"]
    assert {
        "channel",
        "to",
        "subject",
        "body_text",
        "attachments",
        "links",
        "customer_id",
        "invoice_ids",
        "steps",
        "sent_at",
    } <= set(messages[0])
    assert [m["to"] for m in json.loads(filtered.output)] == ["+14155550123"]
    assert table.exit_code == 0 and "ap@brightwater-supply.com" in table.output


def test_local_rejects_a_malformed_today_as_bad_usage() -> None:
    result = CliRunner().invoke(cli(), ["local", "--today", "22/11/2026"])
    assert result.exit_code == 2
