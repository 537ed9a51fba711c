"""Data access for the ledger: the only module of `shared.ledger` that talks to DynamoDB."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.data.binding import shared_connection
from shared.data.tables import (
    ActivityRecord,
    CustomerRecord,
    ImportRecord,
    InvoiceRecord,
    PaymentRecord,
)
from shared.errors import ConflictError

BATCH_GET_LIMIT = 100


class LedgerRepository:
    """Reads are strongly consistent: an import decides create/update/unchanged from what is stored now."""

    def customers(self, customer_ids: Iterable[str]) -> dict[str, CustomerRecord]:
        return _batch_get(CustomerRecord, sorted(set(customer_ids)), key=lambda r: r.customer_id)

    def invoices(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceRecord]:
        return _batch_get(InvoiceRecord, sorted(set(invoice_ids)), key=lambda r: r.invoice_id)

    def customer(self, customer_id: str) -> CustomerRecord | None:
        return self.customers([customer_id]).get(customer_id)

    def payments(self, payment_ids: Iterable[str]) -> dict[str, PaymentRecord]:
        return _batch_get(PaymentRecord, sorted(set(payment_ids)), key=lambda r: r.payment_id)

    def customers_with_tin(self, fingerprint: str) -> list[str]:
        return [r.customer_id for r in CustomerRecord.tin_index.query(fingerprint)]

    def customer_invoices(self, customer_id: str) -> list[InvoiceRecord]:
        """All of one customer's invoices, oldest due first (the index is eventually consistent, so the
        caller re-reads the ones it will change)."""
        keys = [r.invoice_id for r in InvoiceRecord.customer_invoices_index.query(customer_id)]
        found = self.invoices(keys)
        return sorted(found.values(), key=lambda r: (r.due_date, r.invoice_id))

    def save(self, record: CustomerRecord | InvoiceRecord | ImportRecord) -> None:
        record.save()

    def insert_new(self, records: Sequence[InvoiceRecord]) -> None:
        """Brand-new invoices in batches of 25 (ids already checked absent in this import)."""
        with InvoiceRecord.batch_write() as batch:
            for record in records:
                batch.save(record)

    def apply_payment(
        self,
        payment: PaymentRecord,
        invoices: Sequence[InvoiceRecord],
        customer: CustomerRecord | None,
        activity: ActivityRecord,
    ) -> None:
        """One transaction: the payment (only if its id is new), the invoices it reduces and the customer's
        credit (both guarded by their version), and the timeline entry. All or nothing."""
        try:
            with TransactWrite(connection=shared_connection()) as tx:
                tx.save(payment, condition=PaymentRecord.payment_id.does_not_exist())
                for invoice in invoices:
                    tx.save(invoice)
                if customer is not None:
                    tx.save(customer)
                tx.save(activity)
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                raise ConflictError(
                    f"payment {payment.payment_id} was not applied: it, or an invoice it pays, changed "
                    "while it was being applied; import the file again"
                ) from exc
            raise


_Record = TypeVar("_Record", CustomerRecord, InvoiceRecord, PaymentRecord)


def _batch_get(model: type[_Record], ids: list[str], key: Callable[[_Record], str]) -> dict[str, _Record]:
    found: dict[str, _Record] = {}
    for start in range(0, len(ids), BATCH_GET_LIMIT):
        for record in model.batch_get(ids[start : start + BATCH_GET_LIMIT], consistent_read=True):
            found[key(record)] = record
    return found
