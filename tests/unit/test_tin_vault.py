"""TIN envelope encryption and keyed fingerprints against moto's KMS (which enforces encryption contexts)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from arcollect.local.deployment import LocalDeployment
from arcollect.local.provisioning import provision_tin_keys
from shared.security import tin_vault
from shared.security.tin_vault import KmsTinVault, TinBlobError

DEPLOYMENT = LocalDeployment(stage="test")


@pytest.fixture
def kms() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("kms", region_name=DEPLOYMENT.region)
        provision_tin_keys(client, DEPLOYMENT)
        yield client


def vault(kms: Any) -> KmsTinVault:
    return KmsTinVault(kms=kms, key_id=DEPLOYMENT.tin_key_alias, mac_key_id=DEPLOYMENT.tin_mac_key_alias)


def count_kms_requests(kms: Any) -> Counter[str]:
    calls: Counter[str] = Counter()
    kms.meta.events.register("before-call.kms", lambda model, **_: calls.update([model.name]))
    return calls


def test_a_tin_decrypts_for_the_customer_it_was_encrypted_for(kms: Any) -> None:
    blob = vault(kms).encrypt("123456789", "CUST-1")

    assert vault(kms).decrypt(blob, "CUST-1") == "123456789"  # another vault: the data key comes from KMS


def test_a_blob_copied_onto_another_customer_does_not_decrypt(kms: Any) -> None:
    blob = vault(kms).encrypt("123456789", "CUST-1")

    with pytest.raises(TinBlobError) as raised:
        vault(kms).decrypt(blob, "CUST-2")
    assert "123456789" not in str(raised.value)


def test_a_damaged_or_foreign_blob_does_not_decrypt(kms: Any) -> None:
    blob = bytearray(vault(kms).encrypt("123456789", "CUST-1"))
    flipped = bytes(blob[:-1]) + bytes([blob[-1] ^ 1])
    raw_kms = bytes(kms.encrypt(KeyId=DEPLOYMENT.tin_key_alias, Plaintext=b"123456789")["CiphertextBlob"])

    for bad in (flipped, bytes(blob[:20]), raw_kms, b""):
        with pytest.raises(TinBlobError):
            vault(kms).decrypt(bad, "CUST-1")


def test_a_blob_carries_neither_the_tin_nor_the_data_key_in_clear(kms: Any) -> None:
    calls: list[dict[str, Any]] = []
    kms.meta.events.register("after-call.kms.GenerateDataKey", lambda parsed, **_: calls.append(parsed))
    the_vault = vault(kms)
    blob = the_vault.encrypt("123456789", "CUST-1")
    (response,) = calls

    assert blob[0] == tin_vault.BLOB_VERSION
    assert b"123456789" not in blob and bytes(response["Plaintext"]) not in blob
    assert bytes(response["CiphertextBlob"]) in blob
    assert bytes(response["Plaintext"]).hex() not in repr(the_vault)


def test_the_same_tin_encrypts_differently_each_time(kms: Any) -> None:
    the_vault = vault(kms)

    assert the_vault.encrypt("123456789", "CUST-1") != the_vault.encrypt("123456789", "CUST-1")


def test_a_tin_has_one_fingerprint_in_every_process_and_another_tin_another(kms: Any) -> None:
    first, second = vault(kms), vault(kms)

    assert first.fingerprint("ein:123456789") == second.fingerprint("ein:123456789")
    assert first.fingerprint("ein:123456789") != first.fingerprint("ein:123456780")
    assert len(first.fingerprint("ein:123456789")) == 43  # HMAC-SHA256, base64url without padding


def test_the_fingerprint_depends_on_the_deployments_hmac_key(kms: Any) -> None:
    other = LocalDeployment(stage="other")
    provision_tin_keys(kms, other)
    other_vault = KmsTinVault(kms=kms, key_id=other.tin_key_alias, mac_key_id=other.tin_mac_key_alias)

    assert other_vault.fingerprint("ein:123456789") != vault(kms).fingerprint("ein:123456789")


def test_a_vault_asks_kms_once_for_each_key_however_many_tins_it_protects(kms: Any) -> None:
    calls = count_kms_requests(kms)
    the_vault = vault(kms)

    blobs = []
    for n in range(300):
        the_vault.fingerprint(f"ein:{n:09d}")
        blobs.append(the_vault.encrypt(f"{n:09d}", f"CUST-{n}"))
    reader = vault(kms)
    assert [reader.decrypt(blob, f"CUST-{n}") for n, blob in enumerate(blobs)] == [f"{n:09d}" for n in range(300)]

    assert calls == {"GenerateDataKey": 1, "GenerateMac": 1, "Decrypt": 1}


def test_a_data_key_is_replaced_once_it_has_protected_its_share_of_tins(
    kms: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tin_vault, "MAX_ENCRYPTIONS_PER_DATA_KEY", 2)
    calls = count_kms_requests(kms)
    the_vault = vault(kms)

    blobs = [the_vault.encrypt(f"00000000{n}", "CUST-1") for n in range(5)]

    assert calls["GenerateDataKey"] == 3
    assert [vault(kms).decrypt(blob, "CUST-1") for blob in blobs] == [f"00000000{n}" for n in range(5)]
