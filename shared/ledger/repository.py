"""Data access for the ledger: the only module of `shared.ledger` that talks to DynamoDB.

`LedgerStore` is the port the importer depends on; `LedgerRepository` is its DynamoDB adapter and the unit
tests use an in-memory one. Reads by key are strongly consistent; the per-customer indexes are eventually
consistent, so callers check what they list against the counts kept on the customer item."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.data.binding import shared_connection
from shared.data.tables import (
    CreditNoteRecord,
    CustomerRecord,
    ImportRecord,
    InvoiceRecord,
    PaymentRecord,
    TinClaimRecord,
)
from shared.errors import ConflictError, ValidationError
from shared.ledger.customer_ledger import Write

BATCH_GET_LIMIT = 100
TRANSACTION_ITEMS = 100
# DynamoDB's item limit is 400 KB; this leaves room for attribute-name overhead the estimate misses.
ITEM_SIZE_LIMIT = 390_000


class LedgerStore(Protocol):
    def customers(self, customer_ids: Iterable[str]) -> dict[str, CustomerRecord]: ...
    def invoices(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceRecord]: ...
    def payments(self, payment_ids: Iterable[str]) -> dict[str, PaymentRecord]: ...
    def credit_notes(self, credit_ids: Iterable[str]) -> dict[str, CreditNoteRecord]: ...
    def tin_claims(self, fingerprints: Iterable[str]) -> dict[str, TinClaimRecord]: ...
    def customer_invoice_ids(self, customer_id: str) -> list[str]: ...
    def customer_document_ids(self, customer_id: str) -> tuple[list[str], list[str]]: ...
    def save(self, record: CustomerRecord | ImportRecord) -> None: ...
    def commit(self, writes: Sequence[Write]) -> None: ...


class LedgerRepository:
    """Reads are strongly consistent: an import decides create/update/unchanged from what is stored now."""

    def customers(self, customer_ids: Iterable[str]) -> dict[str, CustomerRecord]:
        return _batch_get(CustomerRecord, sorted(set(customer_ids)), key=lambda r: r.customer_id)

    def invoices(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceRecord]:
        return _batch_get(InvoiceRecord, sorted(set(invoice_ids)), key=lambda r: r.invoice_id)

    def payments(self, payment_ids: Iterable[str]) -> dict[str, PaymentRecord]:
        return _batch_get(PaymentRecord, sorted(set(payment_ids)), key=lambda r: r.payment_id)

    def credit_notes(self, credit_ids: Iterable[str]) -> dict[str, CreditNoteRecord]:
        return _batch_get(CreditNoteRecord, sorted(set(credit_ids)), key=lambda r: r.credit_id)

    def tin_claims(self, fingerprints: Iterable[str]) -> dict[str, TinClaimRecord]:
        return _batch_get(TinClaimRecord, sorted(set(fingerprints)), key=lambda r: r.fingerprint)

    def customer_invoice_ids(self, customer_id: str) -> list[str]:
        return [r.invoice_id for r in InvoiceRecord.customer_invoices_index.query(customer_id)]

    def customer_document_ids(self, customer_id: str) -> tuple[list[str], list[str]]:
        payments = [r.payment_id for r in PaymentRecord.customer_payments_index.query(customer_id)]
        credits = [r.credit_id for r in CreditNoteRecord.customer_credits_index.query(customer_id)]
        return payments, credits

    def save(self, record: CustomerRecord | ImportRecord) -> None:
        record.save()

    def commit(self, writes: Sequence[Write]) -> None:
        """All or nothing, in one transaction: new documents only if their id is new, versioned records
        (customers, invoices) only if unchanged since read. The caller splits what exceeds one transaction."""
        if len(writes) > TRANSACTION_ITEMS:
            raise ValueError(f"{len(writes)} items exceed one transaction ({TRANSACTION_ITEMS})")
        check_item_sizes(writes)
        try:
            with TransactWrite(connection=shared_connection()) as tx:
                for write in writes:
                    record = write.record
                    if write.new and isinstance(record, PaymentRecord):
                        tx.save(record, condition=PaymentRecord.payment_id.does_not_exist())
                    elif write.new and isinstance(record, CreditNoteRecord):
                        tx.save(record, condition=CreditNoteRecord.credit_id.does_not_exist())
                    else:
                        tx.save(record)
        except TransactWriteError as exc:
            response = getattr(exc.cause, "response", None) or {}
            if response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise ConflictError("the customer's ledger changed while this import was writing it") from exc
            raise


# Items whose lists grow with the ledger (payments applied, allocations); every other item is bounded by the
# import's field limits (shared/ledger/rows.py) far below 400 KB.
GROWING_ITEMS = (InvoiceRecord, PaymentRecord, CreditNoteRecord)


def check_item_sizes(writes: Sequence[Write]) -> None:
    """An item over DynamoDB's limit is the input's error, found before anything is written."""
    for write in writes:
        if not isinstance(write.record, GROWING_ITEMS):
            continue
        size = item_size(write.record)
        if size > ITEM_SIZE_LIMIT:
            raise ValidationError(
                f"{type(write.record).__name__.removesuffix('Record').lower()} {_key_of(write.record)} would be "
                f"{size // 1000} KB, over DynamoDB's 400 KB item limit"
            )


def item_size(record: Model) -> int:
    """An upper estimate of a stored item's size: its attribute names and values as JSON."""
    serialized = record.serialize(null_check=False)
    return len(json.dumps(serialized, separators=(",", ":"), default=_binary_as_base64).encode())


def _binary_as_base64(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return "x" * (4 * ((len(value) + 2) // 3))
    raise TypeError(f"{type(value).__name__} is not a stored type")


def _key_of(record: Model) -> str:
    hash_key = record._hash_key_attribute()
    return str(getattr(record, hash_key.attr_name)) if hash_key is not None else "?"


_Record = TypeVar("_Record", CustomerRecord, InvoiceRecord, PaymentRecord, CreditNoteRecord, TinClaimRecord)


def _batch_get(model: type[_Record], ids: list[str], key: Callable[[_Record], str]) -> dict[str, _Record]:
    found: dict[str, _Record] = {}
    for start in range(0, len(ids), BATCH_GET_LIMIT):
        for record in model.batch_get(ids[start : start + BATCH_GET_LIMIT], consistent_read=True):
            found[key(record)] = record
    return found
