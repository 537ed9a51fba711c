"""Signed, expiring portal links: the personal link every reminder carries, which the portal exchanges for a
short-lived session (PRODUCT.md 1.4).

A link token is an HS256 JWT (PyJWT) with iss, aud="arcollect-portal", sub (the customer), purpose, iat,
exp and jti, and the signing key's id in the header. Only HS256 is accepted, whatever the token's header
says, so `alg: none` and algorithm confusion are refused. A link is good for one customer and one purpose:
a token minted to open the portal does not pass where another purpose is asked for.

The key lives in Secrets Manager as JSON {"kid": "...", "key": "<base64 of 32+ random bytes>"}. Rotation
puts a new version in AWSCURRENT and keeps the old one as AWSPREVIOUS; links signed by either verify, so the
links in last week's reminders keep working through a rotation, until they expire. Functions read the two
stages through Powertools `parameters` (`powertools_fetch`), one `SecretsProvider` per stage: a provider's cache
key is the secret's name alone, so one provider would serve AWSPREVIOUS from AWSCURRENT's cache entry.

Time is an argument: `now` is passed in, and expiry is checked here against it with no leeway (PyJWT's own
checks read the wall clock). `iat` is not compared with `now`: a run over a past or future day (`--as-of`)
stamps its links with that day. A token's text never appears in an error message or a log.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from shared.errors import DomainError

ALGORITHM = "HS256"
AUDIENCE = "arcollect-portal"
ISSUER = "arcollect"
PURPOSE_PORTAL = "portal"
DEFAULT_TTL = timedelta(days=14)
MIN_KEY_BYTES = 32
CURRENT_STAGE = "AWSCURRENT"
PREVIOUS_STAGE = "AWSPREVIOUS"
_REQUIRED_CLAIMS = ("iss", "aud", "sub", "purpose", "iat", "exp", "jti")

SecretFetch = Callable[[str, str], "str | None"]


class LinkError(DomainError):
    """A link token that cannot be used (expired, tampered, signed by an unknown key, for another purpose)
    or a signing key that cannot be loaded. The message never contains a token or a key."""

    code = "invalid_link"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.kid:
            raise LinkError("a signing key needs a key id (kid)")
        if len(self.secret) < MIN_KEY_BYTES:
            raise LinkError(f"signing key {self.kid!r} is {len(self.secret)} bytes; HS256 needs at least 32")


@dataclass(frozen=True)
class SigningKeys:
    """The key that signs (current) and, during a rotation, the one it replaced (previous)."""

    current: SigningKey
    previous: SigningKey | None = None

    def for_kid(self, kid: str) -> list[SigningKey]:
        return [key for key in (self.current, self.previous) if key is not None and key.kid == kid]


@dataclass(frozen=True)
class IssuedLink:
    link_token: str = field(repr=False)
    expires_at: datetime
    jti: str


@dataclass(frozen=True)
class LinkClaims:
    customer_id: str
    purpose: str
    issued_at: datetime
    expires_at: datetime
    jti: str
    kid: str


class LinkSigner:
    def __init__(self, keys: SigningKeys, issuer: str = ISSUER, ttl: timedelta = DEFAULT_TTL) -> None:
        if ttl <= timedelta(0):
            raise LinkError("a link's time to live must be positive")
        self._keys = keys
        self._issuer = issuer
        self._ttl = ttl

    def issue(self, customer_id: str, purpose: str, now: datetime, ttl: timedelta | None = None) -> IssuedLink:
        """A token for `customer_id` and `purpose`, valid from `now` for `ttl` (the signer's by default)."""
        if not customer_id or not purpose:
            raise LinkError("a link needs a customer and a purpose")
        lifetime = self._ttl if ttl is None else ttl
        if lifetime <= timedelta(0):
            raise LinkError("a link's time to live must be positive")
        issued_at = int(_whole_seconds(now).timestamp())
        expires_at = int((_whole_seconds(now) + lifetime).timestamp())
        jti = secrets.token_urlsafe(12)
        claims = {
            "iss": self._issuer,
            "aud": AUDIENCE,
            "sub": customer_id,
            "purpose": purpose,
            "iat": issued_at,
            "exp": expires_at,
            "jti": jti,
        }
        key = self._keys.current
        # No "typ" header: the token rides in a URL and an SMS, where every character counts.
        token = jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": None})
        return IssuedLink(link_token=token, expires_at=datetime.fromtimestamp(expires_at, UTC), jti=jti)

    def verify(self, token: str, purpose: str, now: datetime) -> LinkClaims:
        """The claims of a token signed by the current or the previous key, for `purpose`, not expired at
        `now`. Anything else is a LinkError."""
        kid = _kid(token)
        candidates = self._keys.for_kid(kid)
        if not candidates:
            raise LinkError("link signed by an unknown key")
        payload = self._decode(token, candidates)
        if payload.get("purpose") != purpose:
            raise LinkError("link is not valid for this purpose")
        if not isinstance(payload["sub"], str) or not payload["sub"]:
            raise LinkError("link names no customer")
        if not isinstance(payload["exp"], int) or not isinstance(payload["iat"], int):
            raise LinkError("link has malformed dates")
        if _aware(now).timestamp() >= payload["exp"]:
            raise LinkError("link has expired")
        return LinkClaims(
            customer_id=payload["sub"],
            purpose=purpose,
            issued_at=datetime.fromtimestamp(payload["iat"], UTC),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            jti=str(payload["jti"]),
            kid=kid,
        )

    def _decode(self, token: str, candidates: list[SigningKey]) -> dict[str, Any]:
        for key in candidates:
            try:
                return jwt.decode(
                    token,
                    key.secret,
                    algorithms=[ALGORITHM],
                    audience=AUDIENCE,
                    issuer=self._issuer,
                    # exp is checked against the `now` passed in, not PyJWT's wall clock.
                    options={
                        "verify_exp": False,
                        "verify_iat": False,
                        "verify_nbf": False,
                        "require": list(_REQUIRED_CLAIMS),
                    },
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidAudienceError as exc:
                raise LinkError("link is not meant for the portal") from exc
            except jwt.InvalidIssuerError as exc:
                raise LinkError("link was not issued by arcollect") from exc
            except jwt.MissingRequiredClaimError as exc:
                raise LinkError(f"link lacks the {exc.claim} claim") from exc
            except jwt.InvalidAlgorithmError as exc:
                raise LinkError("link is not signed with HS256") from exc
            except jwt.InvalidTokenError as exc:
                raise LinkError("link is malformed") from exc
        raise LinkError("link signature does not verify")


def portal_url(base_url: str, token: str) -> str:
    """`{base}/?link=<token>`; a JWT is URL-safe as it is."""
    return f"{base_url.rstrip('/')}/?link={token}"


def keys_from_secret(secret_string: str, previous: str | None = None) -> SigningKeys:
    """Signing keys from the secret's current value and, during a rotation, its previous one."""
    current_key = key_from_secret(secret_string)
    previous_key = key_from_secret(previous) if previous is not None else None
    return SigningKeys(current=current_key, previous=None if previous_key == current_key else previous_key)


def key_from_secret(secret_string: str) -> SigningKey:
    """One Secrets Manager version's value, {"kid": "...", "key": "<base64>"}, as a signing key."""
    try:
        value = json.loads(secret_string)
    except ValueError as exc:
        raise LinkError("the link-signing secret is not JSON") from exc
    if not isinstance(value, dict) or not isinstance(value.get("kid"), str) or not isinstance(value.get("key"), str):
        raise LinkError('the link-signing secret must be {"kid": "...", "key": "<base64>"}')
    try:
        secret = base64.b64decode(value["key"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LinkError(f"the link-signing key {value['kid']!r} is not base64") from exc
    return SigningKey(kid=value["kid"], secret=secret)


def load_signing_keys(secret_id: str, fetch: SecretFetch) -> SigningKeys:
    """The current key and, when the secret has one, the previous (AWSPREVIOUS) key."""
    current = fetch(secret_id, CURRENT_STAGE)
    if current is None:
        raise LinkError(f"the link-signing secret {secret_id} has no current value")
    return keys_from_secret(current, fetch(secret_id, PREVIOUS_STAGE))


def secrets_manager_fetch(client: Any) -> SecretFetch:
    """`fetch(secret_id, version_stage)` on a boto3 secretsmanager client; None when that stage does not
    exist (a secret never rotated has no AWSPREVIOUS)."""

    def fetch(secret_id: str, version_stage: str) -> str | None:
        try:
            response = client.get_secret_value(SecretId=secret_id, VersionStage=version_stage)
        except client.exceptions.ResourceNotFoundException:
            return None
        return str(response["SecretString"])

    return fetch


def powertools_fetch(
    client: Any = None, max_age: int = 300, monotonic: Callable[[], float] = time.monotonic
) -> SecretFetch:
    """`fetch(secret_id, version_stage)` through Powertools `parameters`, cached `max_age` seconds per stage; None
    when that stage does not exist. `client`: a boto3 secretsmanager client (the emulator's, locally).

    Powertools caches values, not absences: a secret never rotated has no AWSPREVIOUS, and without the
    `absent` note here every request would ask Secrets Manager for it again."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    providers: dict[str, SecretsProvider] = {}
    absent: dict[tuple[str, str], float] = {}  # (secret, stage) -> until when it is known not to exist

    def fetch(secret_id: str, version_stage: str) -> str | None:
        if absent.get((secret_id, version_stage), float("-inf")) > monotonic():
            return None
        provider = providers.get(version_stage)
        if provider is None:
            provider = providers[version_stage] = SecretsProvider(boto3_client=client)
        try:
            value = provider.get(secret_id, max_age=max_age, VersionStage=version_stage)
        except GetParameterError as exc:
            if "ResourceNotFoundException" in type(exc.__cause__).__name__ or "ResourceNotFound" in str(exc):
                absent[(secret_id, version_stage)] = monotonic() + max_age
                return None
            raise LinkError(f"the link-signing secret {secret_id} cannot be read") from exc
        if isinstance(value, bytes):
            return value.decode()
        return value if isinstance(value, str) else None

    return fetch


def new_secret_value(kid: str | None = None) -> str:
    """A fresh secret version: a random 32-byte key under a new key id (provisioning and rotation)."""
    key_id = kid or f"k{secrets.token_hex(4)}"
    return json.dumps({"kid": key_id, "key": base64.b64encode(secrets.token_bytes(MIN_KEY_BYTES)).decode("ascii")})


def _kid(token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise LinkError("link is malformed") from exc
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise LinkError("link names no signing key")
    return kid


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise LinkError("`now` must carry a timezone")
    return moment


def _whole_seconds(moment: datetime) -> datetime:
    return _aware(moment).astimezone(UTC).replace(microsecond=0)
