"""TINs are stored encrypted and looked up by a keyed fingerprint, at a few KMS requests per import instead of
two per row (docs/tin-protection.md has the security argument).

Encryption is envelope encryption: one AES-256 data key from KMS GenerateDataKey on the TIN key per vault
(an importer), AES-GCM per TIN with the customer id as associated data, so a blob copied onto another
customer does not decrypt. The blob carries what decryption needs: a version byte, the KMS-wrapped data
key, the nonce and the ciphertext. The fingerprint is HMAC-SHA256 under a key derived once per vault with
KMS GenerateMac over a fixed, versioned label: the same TIN gives the same fingerprint in every process
(duplicates are found across imports), and only a principal allowed GenerateMac on the HMAC key can
derive it. Plaintext keys live only in this object's memory and are kept out of its repr.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # imported where a TIN is sealed or opened: the ingest Lambda's cold start skips it
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

BLOB_VERSION = 1
# Bound into every data key by KMS: a wrapped key only unwraps for this purpose, and an IAM policy can
# require it (infra grants GenerateDataKey on the TIN key only with this context).
DATA_KEY_CONTEXT = {"purpose": "arcollect-tin"}
# Changing the label (v2) is how the fingerprint key is rotated: every stored fingerprint is recomputed.
FINGERPRINT_LABEL = b"arcollect/tin-fingerprint/v1"
# Random 96-bit nonces stay far below GCM's collision bound (2**32 per key); this also bounds how many
# TINs share one data key.
MAX_ENCRYPTIONS_PER_DATA_KEY = 100_000
_NONCE_BYTES = 12
_HEADER = struct.Struct(">BH")  # version, length of the wrapped data key
_UNWRAPPED_CACHE_SIZE = 256


class TinVault(Protocol):
    def fingerprint(self, tin: str) -> str: ...

    def encrypt(self, tin: str, customer_id: str) -> bytes: ...


class TinBlobError(Exception):
    """A stored TIN blob that cannot be decrypted for this customer: damaged, foreign or of another
    customer. The message never carries the blob or the TIN."""


@dataclass
class _DataKey:
    cipher: AESGCM
    wrapped: bytes
    uses: int = 0


@dataclass
class KmsTinVault:
    kms: Any  # a boto3 KMS client
    key_id: str
    mac_key_id: str
    _fingerprint_key: bytes | None = field(default=None, init=False, repr=False)
    _data_key: _DataKey | None = field(default=None, init=False, repr=False)
    _unwrapped: dict[bytes, AESGCM] = field(default_factory=dict, init=False, repr=False)

    def fingerprint(self, tin: str) -> str:
        if self._fingerprint_key is None:
            response = self.kms.generate_mac(
                Message=FINGERPRINT_LABEL, KeyId=self.mac_key_id, MacAlgorithm="HMAC_SHA_256"
            )
            self._fingerprint_key = bytes(response["Mac"])
        digest = hmac.new(self._fingerprint_key, tin.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def encrypt(self, tin: str, customer_id: str) -> bytes:
        key = self._current_data_key()
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = key.cipher.encrypt(nonce, tin.encode(), customer_id.encode())
        return _HEADER.pack(BLOB_VERSION, len(key.wrapped)) + key.wrapped + nonce + ciphertext

    def decrypt(self, blob: bytes, customer_id: str) -> str:
        """The TIN in `blob`, which must have been encrypted for `customer_id`."""
        from cryptography.exceptions import InvalidTag

        wrapped, nonce, ciphertext = _split(blob)
        cipher = self._unwrap(wrapped)
        try:
            return cipher.decrypt(nonce, ciphertext, customer_id.encode()).decode()
        except InvalidTag:
            raise TinBlobError("the TIN blob was not encrypted for this customer, or is damaged") from None

    def _current_data_key(self) -> _DataKey:
        key = self._data_key
        if key is None or key.uses >= MAX_ENCRYPTIONS_PER_DATA_KEY:
            response = self.kms.generate_data_key(
                KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=DATA_KEY_CONTEXT
            )
            wrapped = bytes(response["CiphertextBlob"])
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            cipher = AESGCM(bytes(response["Plaintext"]))
            key = self._data_key = _DataKey(cipher=cipher, wrapped=wrapped)
            self._unwrapped[wrapped] = cipher  # decrypting what this vault wrote needs no KMS call
        key.uses += 1
        return key

    def _unwrap(self, wrapped: bytes) -> AESGCM:
        cipher = self._unwrapped.get(wrapped)
        if cipher is None:
            try:
                response = self.kms.decrypt(
                    CiphertextBlob=wrapped, KeyId=self.key_id, EncryptionContext=DATA_KEY_CONTEXT
                )
            except self.kms.exceptions.InvalidCiphertextException:
                raise TinBlobError("the TIN blob's data key is not one of arcollect's TIN keys") from None
            if len(self._unwrapped) >= _UNWRAPPED_CACHE_SIZE:
                self._unwrapped.pop(next(iter(self._unwrapped)))
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            cipher = self._unwrapped[wrapped] = AESGCM(bytes(response["Plaintext"]))
        return cipher


def _split(blob: bytes) -> tuple[bytes, bytes, bytes]:
    """(wrapped data key, nonce, ciphertext) of a version-1 blob."""
    if len(blob) < _HEADER.size or blob[0] != BLOB_VERSION:
        raise TinBlobError("the TIN blob is not a version-1 arcollect blob")
    _, wrapped_length = _HEADER.unpack_from(blob)
    start = _HEADER.size
    nonce_start = start + wrapped_length
    if len(blob) < nonce_start + _NONCE_BYTES + 16:  # 16: the GCM tag
        raise TinBlobError("the TIN blob is truncated")
    return blob[start:nonce_start], blob[nonce_start : nonce_start + _NONCE_BYTES], blob[nonce_start + _NONCE_BYTES :]


def mask_tin(last4: str | None) -> str | None:
    """The only form a TIN is ever shown in: its last four characters."""
    return f"•••••{last4}" if last4 else None
