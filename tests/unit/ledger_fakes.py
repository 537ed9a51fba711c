"""In-memory stand-ins for the ledger's ports (the `LedgerStore` repository and the TIN vault), so the
importer's rules run in unit tests without an emulator. The store keeps items serialized, as DynamoDB
does, and enforces the same conditions: a versioned record only over the version it read, a new document
only where none is, every commit all or nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from pynamodb.models import Model

from shared.data.tables import (
    ActivityRecord,
    CreditNoteRecord,
    CustomerRecord,
    ImportRecord,
    InvoiceRecord,
    PaymentRecord,
    TinClaimRecord,
)
from shared.errors import ConflictError
from shared.ledger.customer_ledger import Write
from shared.ledger.repository import TRANSACTION_ITEMS, check_item_sizes


class InMemoryLedgerStore:
    def __init__(self) -> None:
        self.tables: dict[type[Model], dict[tuple[str, ...], dict[str, Any]]] = {}
        self.commits = 0
        # Simulates an index that has not caught up yet: this many of the newest ids stay unlisted.
        self.index_lag = 0

    # --- reads -------------------------------------------------------------------------------------

    def _all(self, model: type[Model]) -> list[Any]:
        return [model.from_raw_data(raw) for raw in self.tables.get(model, {}).values()]

    def _ids_of_customer(self, model: type[Model], customer_id: str) -> list[str]:
        """An index query: the keys of one customer's items, read off the stored items without decoding them."""
        return [key[0] for key, raw in self.tables.get(model, {}).items() if raw["customer_id"]["S"] == customer_id]

    def _by_ids(self, model: type[Model], ids: Iterable[str]) -> dict[str, Any]:
        table = self.tables.get(model, {})
        return {i: model.from_raw_data(table[(i,)]) for i in set(ids) if (i,) in table}

    def customers(self, customer_ids: Iterable[str]) -> dict[str, CustomerRecord]:
        return self._by_ids(CustomerRecord, customer_ids)

    def invoices(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceRecord]:
        return self._by_ids(InvoiceRecord, invoice_ids)

    def payments(self, payment_ids: Iterable[str]) -> dict[str, PaymentRecord]:
        return self._by_ids(PaymentRecord, payment_ids)

    def credit_notes(self, credit_ids: Iterable[str]) -> dict[str, CreditNoteRecord]:
        return self._by_ids(CreditNoteRecord, credit_ids)

    def tin_claims(self, fingerprints: Iterable[str]) -> dict[str, TinClaimRecord]:
        return self._by_ids(TinClaimRecord, fingerprints)

    def _lagging(self, ids: list[str]) -> list[str]:
        return ids[: max(0, len(ids) - self.index_lag)]

    def customer_invoice_ids(self, customer_id: str) -> list[str]:
        return self._lagging(self._ids_of_customer(InvoiceRecord, customer_id))

    def customer_document_ids(self, customer_id: str) -> tuple[list[str], list[str]]:
        payments = self._ids_of_customer(PaymentRecord, customer_id)
        credits = self._ids_of_customer(CreditNoteRecord, customer_id)
        return self._lagging(payments), credits

    def activities(self, customer_id: str) -> list[ActivityRecord]:
        return sorted(
            (a for a in self._all(ActivityRecord) if a.customer_id == customer_id), key=lambda a: a.activity_key
        )

    # --- writes ------------------------------------------------------------------------------------

    def save(self, record: CustomerRecord | ImportRecord) -> None:
        self.commit([Write(record)], limit=False)

    def commit(self, writes: Sequence[Write], *, limit: bool = True) -> None:
        if limit and len(writes) > TRANSACTION_ITEMS:
            raise ValueError("more items than one transaction holds")
        check_item_sizes(writes)
        for write in writes:
            stored = self.tables.get(type(write.record), {}).get(_key(write.record))
            if write.new and stored is not None:
                raise ConflictError(f"{_key(write.record)} exists")
            version = _version_name(write.record)
            if version is not None:
                expected = getattr(write.record, version)
                found = None if stored is None else stored.get(version, {}).get("N")
                if (expected is None and stored is not None) or (
                    expected is not None and (found is None or int(found) != int(expected))
                ):
                    raise ConflictError(f"{_key(write.record)} changed")
        for write in writes:
            version = _version_name(write.record)
            if version is not None:
                setattr(write.record, version, int(getattr(write.record, version) or 0) + 1)
            self.tables.setdefault(type(write.record), {})[_key(write.record)] = write.record.serialize(
                null_check=False
            )
        self.commits += 1


def _version_name(record: Model) -> str | None:
    return record._version_attribute_name  # type: ignore[no-any-return]


def _key(record: Model) -> tuple[str, ...]:
    hash_key = record._hash_key_attribute()
    range_key = record._range_key_attribute()
    key = [str(getattr(record, hash_key.attr_name))]
    if range_key is not None:
        key.append(str(getattr(record, range_key.attr_name)))
    return tuple(key)


class FakeTinVault:
    """Deterministic and offline; the real one is KMS-backed (tests/integration)."""

    def fingerprint(self, tin: str) -> str:
        return hashlib.sha256(b"test-key:" + tin.encode()).hexdigest()

    def encrypt(self, tin: str, customer_id: str) -> bytes:
        return b"sealed:" + hashlib.sha256(customer_id.encode() + tin.encode()).digest()
