"""TINs are encrypted with KMS (the customer id bound in as encryption context) and fingerprinted with a
KMS HMAC key so that "one TIN, one active customer" is checked without storing a TIN in clear."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Protocol


class TinVault(Protocol):
    def fingerprint(self, tin: str) -> str: ...

    def encrypt(self, tin: str, customer_id: str) -> bytes: ...


@dataclass
class KmsTinVault:
    kms: Any  # a boto3 KMS client
    key_id: str
    mac_key_id: str

    def fingerprint(self, tin: str) -> str:
        response = self.kms.generate_mac(Message=tin.encode(), KeyId=self.mac_key_id, MacAlgorithm="HMAC_SHA_256")
        return base64.urlsafe_b64encode(response["Mac"]).decode().rstrip("=")

    def encrypt(self, tin: str, customer_id: str) -> bytes:
        response = self.kms.encrypt(
            KeyId=self.key_id, Plaintext=tin.encode(), EncryptionContext={"customer_id": customer_id}
        )
        return bytes(response["CiphertextBlob"])


def mask_tin(last4: str | None) -> str | None:
    """The only form a TIN is ever shown in: its last four characters."""
    return f"•••••{last4}" if last4 else None
