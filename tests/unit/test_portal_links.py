"""Signed portal links: scoped to one customer and one purpose, expiring, verifiable through a key rotation."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from shared.security.links import (
    AUDIENCE,
    PURPOSE_PORTAL,
    LinkError,
    LinkSigner,
    SigningKey,
    SigningKeys,
    keys_from_secret,
    load_signing_keys,
    new_secret_value,
    portal_url,
    powertools_fetch,
    secrets_manager_fetch,
)

NOW = datetime(2026, 3, 5, 14, 30, 15, 123456, tzinfo=UTC)
OLD = SigningKey("k-old", b"o" * 32)
NEW = SigningKey("k-new", b"n" * 32)
STRANGER = SigningKey("k-stranger", b"s" * 32)


def signer(current: SigningKey = NEW, previous: SigningKey | None = None, **kwargs: Any) -> LinkSigner:
    return LinkSigner(SigningKeys(current=current, previous=previous), **kwargs)


def forged(claims: dict[str, Any], key: bytes | str = NEW.secret, kid: str = NEW.kid, algorithm: str = "HS256") -> str:
    base = {
        "iss": "arcollect",
        "aud": AUDIENCE,
        "sub": "C-1",
        "purpose": PURPOSE_PORTAL,
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(days=1)).timestamp()),
        "jti": "j",
    }
    return jwt.encode({**base, **claims}, key, algorithm=algorithm, headers={"kid": kid})


def test_an_issued_link_verifies_for_its_customer_and_purpose() -> None:
    link = signer().issue("C-1", PURPOSE_PORTAL, NOW)

    claims = signer().verify(link.link_token, PURPOSE_PORTAL, NOW + timedelta(days=1))

    assert claims.customer_id == "C-1"
    assert claims.purpose == PURPOSE_PORTAL
    assert claims.jti == link.jti
    assert claims.kid == NEW.kid
    assert claims.issued_at == NOW.replace(microsecond=0)
    assert claims.expires_at == link.expires_at == NOW.replace(microsecond=0) + timedelta(days=14)


def test_the_token_carries_the_agreed_claims_and_key_id() -> None:
    token = signer().issue("C-1", PURPOSE_PORTAL, NOW, ttl=timedelta(hours=1)).link_token

    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})

    assert header == {"alg": "HS256", "kid": NEW.kid}
    assert set(payload) == {"iss", "aud", "sub", "purpose", "iat", "exp", "jti"}
    assert (payload["iss"], payload["aud"], payload["sub"]) == ("arcollect", "arcollect-portal", "C-1")
    assert payload["exp"] - payload["iat"] == 3600


def test_two_links_for_the_same_customer_have_different_ids() -> None:
    assert signer().issue("C-1", PURPOSE_PORTAL, NOW).jti != signer().issue("C-1", PURPOSE_PORTAL, NOW).jti


def test_a_link_is_refused_from_the_second_it_expires() -> None:
    link = signer().issue("C-1", PURPOSE_PORTAL, NOW, ttl=timedelta(days=14))

    signer().verify(link.link_token, PURPOSE_PORTAL, link.expires_at - timedelta(microseconds=1))
    with pytest.raises(LinkError, match="expired"):
        signer().verify(link.link_token, PURPOSE_PORTAL, link.expires_at)


def test_during_a_rotation_links_signed_by_the_previous_key_still_verify() -> None:
    old_link = signer(current=OLD).issue("C-1", PURPOSE_PORTAL, NOW)
    rotated = signer(current=NEW, previous=OLD)

    assert rotated.verify(old_link.link_token, PURPOSE_PORTAL, NOW).kid == OLD.kid
    assert jwt.get_unverified_header(rotated.issue("C-1", PURPOSE_PORTAL, NOW).link_token)["kid"] == NEW.kid


def test_after_the_rotation_ends_the_old_key_is_unknown() -> None:
    old_link = signer(current=OLD).issue("C-1", PURPOSE_PORTAL, NOW)

    with pytest.raises(LinkError, match="unknown key"):
        signer(current=NEW).verify(old_link.link_token, PURPOSE_PORTAL, NOW)


def test_a_link_signed_by_a_stranger_is_refused_even_under_a_known_key_id() -> None:
    with pytest.raises(LinkError, match="unknown key"):
        signer().verify(forged({}, STRANGER.secret, STRANGER.kid), PURPOSE_PORTAL, NOW)
    with pytest.raises(LinkError, match="signature"):
        signer().verify(forged({}, STRANGER.secret, NEW.kid), PURPOSE_PORTAL, NOW)


def test_a_tampered_token_is_refused() -> None:
    token = signer().issue("C-1", PURPOSE_PORTAL, NOW).link_token
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    other = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "C-2"}).encode()).rstrip(b"=").decode()
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]

    for bad in (f"{header}.{other}.{signature}", f"{header}.{payload}.{flipped}", token[:-10], "not-a-token", ""):
        with pytest.raises(LinkError):
            signer().verify(bad, PURPOSE_PORTAL, NOW)


def test_an_unsigned_token_is_refused() -> None:
    unsigned = forged({}, key="", algorithm="none")

    with pytest.raises(LinkError, match="HS256"):
        signer().verify(unsigned, PURPOSE_PORTAL, NOW)


def test_a_token_signed_with_another_hmac_algorithm_is_refused() -> None:
    with pytest.raises(LinkError, match="HS256"):
        signer().verify(forged({}, key=NEW.secret * 2, algorithm="HS512"), PURPOSE_PORTAL, NOW)


def test_a_link_is_scoped_to_its_purpose() -> None:
    token = signer().issue("C-1", "statement_download", NOW).link_token

    with pytest.raises(LinkError, match="purpose"):
        signer().verify(token, PURPOSE_PORTAL, NOW)
    assert signer().verify(token, "statement_download", NOW).purpose == "statement_download"


def test_a_link_is_scoped_to_its_customer() -> None:
    one = signer().verify(signer().issue("C-1", PURPOSE_PORTAL, NOW).link_token, PURPOSE_PORTAL, NOW)
    two = signer().verify(signer().issue("C-2", PURPOSE_PORTAL, NOW).link_token, PURPOSE_PORTAL, NOW)

    assert (one.customer_id, two.customer_id) == ("C-1", "C-2")


def test_a_link_for_another_audience_or_issuer_is_refused() -> None:
    with pytest.raises(LinkError, match="portal"):
        signer().verify(forged({"aud": "arcollect-staff"}), PURPOSE_PORTAL, NOW)
    with pytest.raises(LinkError, match="issued"):
        signer().verify(forged({"iss": "someone-else"}), PURPOSE_PORTAL, NOW)
    with pytest.raises(LinkError, match="issued"):
        signer(issuer="arcollect-prod").verify(forged({}), PURPOSE_PORTAL, NOW)


def test_a_link_without_an_expiry_is_refused() -> None:
    token = jwt.encode(
        {"iss": "arcollect", "aud": AUDIENCE, "sub": "C-1", "purpose": PURPOSE_PORTAL, "iat": 1, "jti": "j"},
        NEW.secret,
        algorithm="HS256",
        headers={"kid": NEW.kid},
    )

    with pytest.raises(LinkError, match="exp"):
        signer().verify(token, PURPOSE_PORTAL, NOW)


def test_no_error_message_contains_the_token() -> None:
    good = signer().issue("C-1", PURPOSE_PORTAL, NOW).link_token
    cases = [
        (good, "other_purpose", NOW),
        (good, PURPOSE_PORTAL, NOW + timedelta(days=30)),
        (good[:-5], PURPOSE_PORTAL, NOW),
        (forged({}, STRANGER.secret, STRANGER.kid), PURPOSE_PORTAL, NOW),
        (forged({"aud": "x"}), PURPOSE_PORTAL, NOW),
    ]
    for token, purpose, now in cases:
        with pytest.raises(LinkError) as raised:
            signer().verify(token, purpose, now)
        message = str(raised.value)
        assert token not in message
        assert not any(part in message for part in token.split(".") if len(part) > 8)


def test_keys_shorter_than_32_bytes_and_naive_times_are_refused() -> None:
    with pytest.raises(LinkError, match="32"):
        SigningKey("k", b"short")
    with pytest.raises(LinkError, match="timezone"):
        signer().issue("C-1", PURPOSE_PORTAL, datetime(2026, 3, 5, 12, 0))
    assert repr(NEW.secret) not in repr(NEW)


@given(customer_id=st.text(min_size=1, max_size=200))
def test_any_customer_id_round_trips(customer_id: str) -> None:
    link = signer().issue(customer_id, PURPOSE_PORTAL, NOW)

    assert signer().verify(link.link_token, PURPOSE_PORTAL, NOW).customer_id == customer_id


def test_a_portal_url_carries_the_token_as_the_link_parameter() -> None:
    assert portal_url("https://portal.example.com/", "a.b.c") == "https://portal.example.com/?link=a.b.c"
    assert portal_url("http://127.0.0.1:8000", "a.b.c") == "http://127.0.0.1:8000/?link=a.b.c"


# --- keys from Secrets Manager --------------------------------------------------------------------------


def test_a_new_secret_value_holds_a_fresh_32_byte_key_under_a_key_id() -> None:
    first, second = json.loads(new_secret_value()), json.loads(new_secret_value("k-2026-03"))

    assert len(base64.b64decode(first["key"])) == 32
    assert first["key"] != second["key"]
    assert second["kid"] == "k-2026-03"
    assert keys_from_secret(new_secret_value("k1")).current.kid == "k1"


def test_a_malformed_secret_is_refused_without_echoing_it() -> None:
    for value in ("not json", '{"kid": "k"}', '{"kid": "k", "key": "%%%"}', '{"kid": "k", "key": "c2hvcnQ="}'):
        with pytest.raises(LinkError) as raised:
            keys_from_secret(value)
        assert "%%%" not in str(raised.value) and "c2hvcnQ=" not in str(raised.value)


@pytest.fixture
def secretsmanager() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_a_secret_never_rotated_gives_only_the_current_key(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="links", SecretString=new_secret_value("k1"))

    keys = load_signing_keys("links", secrets_manager_fetch(secretsmanager))

    assert keys.current.kid == "k1"
    assert keys.previous is None


def test_after_a_rotation_the_previous_version_still_verifies_old_links(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="links", SecretString=new_secret_value("k1"))
    fetch = secrets_manager_fetch(secretsmanager)
    old_link = LinkSigner(load_signing_keys("links", fetch)).issue("C-1", PURPOSE_PORTAL, NOW)

    secretsmanager.put_secret_value(SecretId="links", SecretString=new_secret_value("k2"))
    keys = load_signing_keys("links", fetch)

    assert (keys.current.kid, keys.previous and keys.previous.kid) == ("k2", "k1")
    assert LinkSigner(keys).verify(old_link.link_token, PURPOSE_PORTAL, NOW).customer_id == "C-1"


def test_a_missing_secret_is_a_link_error(secretsmanager: Any) -> None:
    with pytest.raises(LinkError, match="no current value"):
        load_signing_keys("absent", secrets_manager_fetch(secretsmanager))


def test_through_powertools_both_stages_are_read_each_from_its_own_cache(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="links", SecretString=new_secret_value("k1"))
    secretsmanager.put_secret_value(SecretId="links", SecretString=new_secret_value("k2"))

    keys = load_signing_keys("links", powertools_fetch(secretsmanager, max_age=300))

    assert (keys.current.kid, keys.previous and keys.previous.kid) == ("k2", "k1")


def test_through_powertools_a_secret_never_rotated_has_no_previous_key(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="links", SecretString=new_secret_value("k1"))

    keys = load_signing_keys("links", powertools_fetch(secretsmanager, max_age=300))

    assert keys.previous is None


def test_through_powertools_keys_are_cached_until_their_max_age(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="links", SecretString=new_secret_value("k1"))
    cached, fresh = powertools_fetch(secretsmanager, max_age=300), powertools_fetch(secretsmanager, max_age=0)
    load_signing_keys("links", cached)

    secretsmanager.put_secret_value(SecretId="links", SecretString=new_secret_value("k2"))

    assert load_signing_keys("links", cached).current.kid == "k1"
    assert load_signing_keys("links", fresh).current.kid == "k2"


def test_through_powertools_a_missing_previous_key_is_not_asked_for_again_until_max_age(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="links", SecretString=new_secret_value("k1"))
    asked: list[str] = []
    secretsmanager.meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue", lambda params, **_: asked.append(params["VersionStage"])
    )
    clock = [0.0]
    fetch = powertools_fetch(secretsmanager, max_age=300, monotonic=lambda: clock[0])

    for _ in range(3):
        load_signing_keys("links", fetch)
    clock[0] = 301.0
    load_signing_keys("links", fetch)

    assert asked.count("AWSPREVIOUS") == 2
