"""The local system keeps its data: moto's backends captured and restored (the pin-sensitive part), the
saved-state file and its version check, the request gate that makes a capture consistent, and kept tables
brought in line with the models."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from arcollect.local import outbox
from arcollect.local.deployment import LocalDeployment
from arcollect.local.emulator import Emulator
from arcollect.local.moto_snapshot import RequestGate
from arcollect.local.persistence import LocalStore, SavedStateError
from arcollect.local.provisioning import (
    TableSchemaChanged,
    create_table_request,
    provision_tables,
    reconcile_indexes,
)
from shared.data.schema import TableSpec, all_table_specs
from shared.settings import runtime_settings

SAVED_AT = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def restore_environment() -> Iterator[None]:
    """The emulator exports AWS_ENDPOINT_URL and friends, which other tests must not inherit."""
    saved_environment = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
        runtime_settings.cache_clear()


def started_emulator() -> Emulator:
    emulator = Emulator()
    emulator.start()
    return emulator


# --- capture and restore (moto internals) --------------------------------------------------------------


def test_a_restored_emulator_has_the_items_objects_keys_messages_secrets_and_mail_it_had(
    restore_environment: None,
) -> None:
    deployment = LocalDeployment()
    first = started_emulator()
    try:
        first.provision()
        first.export_environment()
        outbox.start_recording(deployment.region)
        customers = f"{deployment.table_prefix}customers"
        first.client("dynamodb").put_item(
            TableName=customers, Item={"customer_id": {"S": "CUST-1"}, "legal_name": {"S": "Kept Inc"}}
        )
        kms = first.client("kms")
        ciphertext = kms.encrypt(KeyId=deployment.tin_key_alias, Plaintext=b"12-3456789")["CiphertextBlob"]
        mac = kms.generate_mac(KeyId=deployment.tin_mac_key_alias, Message=b"tin", MacAlgorithm="HMAC_SHA_256")
        first.client("s3").put_object(Bucket=deployment.ingest_bucket, Key="kept/a.txt", Body=b"kept")
        queue = first.client("sqs").create_queue(QueueName="kept")["QueueUrl"]
        first.client("sqs").send_message(QueueUrl=queue, MessageBody="still here")
        first.client("secretsmanager").create_secret(Name="kept-secret", SecretString="s3cr3t")
        first.client("ses").send_email(
            Source=deployment.sender_email,
            Destination={"ToAddresses": ["ap@customer.example"]},
            Message={"Subject": {"Data": "Kept mail"}, "Body": {"Text": {"Data": "hello"}}},
        )
        sent_before = outbox.read_outbox(deployment.region)
        saved, _ = first.capture()
    finally:
        first.stop()

    second = started_emulator()
    try:
        second.restore(saved)
        second.provision()  # keeps what it finds: the same keys, tables and bucket
        second.export_environment()
        outbox.start_recording(deployment.region)

        item = second.client("dynamodb").get_item(TableName=customers, Key={"customer_id": {"S": "CUST-1"}})
        assert item["Item"]["legal_name"] == {"S": "Kept Inc"}
        kms = second.client("kms")
        assert kms.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"12-3456789"
        verified = kms.verify_mac(
            KeyId=deployment.tin_mac_key_alias, Message=b"tin", MacAlgorithm="HMAC_SHA_256", Mac=mac["Mac"]
        )
        assert verified["MacValid"]
        assert len(kms.list_keys()["Keys"]) == 2  # provisioning made no new keys
        body = second.client("s3").get_object(Bucket=deployment.ingest_bucket, Key="kept/a.txt")["Body"].read()
        assert body == b"kept"
        messages = second.client("sqs").receive_message(QueueUrl=queue)["Messages"]
        assert [m["Body"] for m in messages] == ["still here"]
        secret = second.client("secretsmanager").get_secret_value(SecretId="kept-secret")
        assert secret["SecretString"] == "s3cr3t"
        sent_after = outbox.read_outbox(deployment.region)
        assert [(m.to, m.subject, m.sent_at) for m in sent_after] == [(m.to, m.subject, m.sent_at) for m in sent_before]
        assert sent_after[0].sent_at is not None
    finally:
        second.stop()


def test_a_snapshot_that_is_not_ours_cannot_be_restored() -> None:
    emulator = started_emulator()
    try:
        with pytest.raises(pickle.UnpicklingError):  # system.py turns it into a message naming --fresh
            emulator.restore(b"not a pickle")
    finally:
        emulator.stop()


# --- the request gate ----------------------------------------------------------------------------------


class _BlockingApp:
    """A WSGI app whose requests wait until released, to hold a request in flight."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.entered.set()
        self.release.wait(30)
        return [b"done"]


def test_the_gate_does_not_close_while_a_request_runs_and_closes_once_it_is_done() -> None:
    app = _BlockingApp()
    gate = RequestGate()
    gated = gate.wrap(app)
    request = threading.Thread(target=gated, args=({}, None))
    request.start()
    assert app.entered.wait(10)

    with pytest.raises(TimeoutError), gate.closed(timeout=0.2):
        pass

    app.release.set()
    request.join(10)
    with gate.closed(timeout=10):
        assert gate.generation == 1


def test_a_request_arriving_while_the_gate_is_closed_waits_until_it_reopens() -> None:
    app = _BlockingApp()
    app.release.set()
    gate = RequestGate()
    gated = gate.wrap(app)
    with gate.closed(timeout=10):
        request = threading.Thread(target=gated, args=({}, None))
        request.start()
        request.join(0.3)
        assert request.is_alive() and not app.entered.is_set()
    request.join(10)
    assert app.entered.is_set() and gate.generation == 1


# --- the saved-state file ------------------------------------------------------------------------------


def test_a_saved_state_reads_back_as_written_and_only_its_owner_can_read_it(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / ".arcollect")
    store.write(b"payload bytes", SAVED_AT)

    payload, info = store.read()
    assert (payload, info.saved_at, info.size_bytes) == (b"payload bytes", SAVED_AT, len(b"payload bytes"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [p.name for p in store.directory.iterdir()] == [store.path.name]  # no temporary file left


def test_a_save_that_fails_midway_leaves_the_previous_state_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path / ".arcollect")
    store.write(b"the last good state", SAVED_AT)

    def crash(source: Any, destination: Any) -> None:
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled out"):
        store.write(b"a newer state", SAVED_AT)
    monkeypatch.undo()

    assert store.read()[0] == b"the last good state"
    assert [p.name for p in store.directory.iterdir()] == [store.path.name]


def _rewrite_header(store: LocalStore, **changes: Any) -> None:
    first_line, payload = store.path.read_bytes().split(b"\n", 1)
    magic, _, header = first_line.partition(b" {")
    fields = json.loads(b"{" + header) | changes
    store.path.write_bytes(magic + b" " + json.dumps(fields).encode() + b"\n" + payload)


def test_a_state_saved_by_another_moto_version_is_refused_with_the_way_out(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / ".arcollect")
    store.write(b"payload", SAVED_AT)
    _rewrite_header(store, moto="4.0.0")

    with pytest.raises(SavedStateError) as refused:
        store.read()
    assert "moto 4.0.0" in str(refused.value) and "--fresh" in str(refused.value)


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"\x80\x05garbage"),
        lambda path: path.write_bytes(path.read_bytes()[:-3]),
        lambda path: path.write_bytes(b""),
    ],
    ids=["not a saved state", "truncated", "empty"],
)
def test_a_damaged_saved_state_is_refused_with_the_way_out(tmp_path: Path, damage: Any) -> None:
    store = LocalStore(tmp_path / ".arcollect")
    store.write(b"payload", SAVED_AT)
    damage(store.path)

    with pytest.raises(SavedStateError, match="--fresh"):
        store.read()


def test_only_one_system_holds_a_directory_at_a_time(tmp_path: Path) -> None:
    first, second = LocalStore(tmp_path / ".arcollect"), LocalStore(tmp_path / ".arcollect")
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_discarding_removes_the_saved_state_and_says_whether_there_was_one(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / ".arcollect")
    assert not store.discard()
    store.write(b"payload", SAVED_AT)
    assert store.discard() and not store.exists()


# --- kept tables follow the models ---------------------------------------------------------------------


def _spec_with_indexes() -> TableSpec:
    return next(spec for spec in all_table_specs() if spec.indexes)


def test_a_kept_table_gets_the_indexes_and_projections_the_models_now_declare() -> None:
    spec = _spec_with_indexes()
    name = f"arcollect-test-{spec.key}"
    current = create_table_request(spec, name)
    outdated = json.loads(json.dumps(current))
    first = outdated["GlobalSecondaryIndexes"][0]
    first["Projection"] = {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["no_longer_read"]}
    outdated["GlobalSecondaryIndexes"] = [first]  # the other indexes are new since
    used = {k["AttributeName"] for k in [*outdated["KeySchema"], *first["KeySchema"]]}
    outdated["AttributeDefinitions"] = [a for a in outdated["AttributeDefinitions"] if a["AttributeName"] in used]
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**outdated)
        dynamodb.put_item(TableName=name, Item=_item_for(current))

        provision_tables(dynamodb, "arcollect-test-")

        table = dynamodb.describe_table(TableName=name)["Table"]
        have = {i["IndexName"]: i["Projection"] for i in table["GlobalSecondaryIndexes"]}
        want = {i["IndexName"]: i["Projection"] for i in current["GlobalSecondaryIndexes"]}
        assert have == want
        assert dynamodb.scan(TableName=name)["Count"] == 1  # the items stay
        assert reconcile_indexes(dynamodb, current) == []  # and a second pass changes nothing


def _item_for(request: dict[str, Any]) -> dict[str, Any]:
    types = {a["AttributeName"]: a["AttributeType"] for a in request["AttributeDefinitions"]}
    return {k["AttributeName"]: {types[k["AttributeName"]]: "1"} for k in request["KeySchema"]}


def test_a_kept_table_whose_keys_changed_is_refused() -> None:
    spec = _spec_with_indexes()
    request = create_table_request(spec, "arcollect-test-changed")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="arcollect-test-changed",
            KeySchema=[{"AttributeName": "something_else", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "something_else", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        with pytest.raises(TableSchemaChanged, match="arcollect-test-changed"):
            reconcile_indexes(dynamodb, request)
