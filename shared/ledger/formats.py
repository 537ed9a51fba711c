"""The CSV import formats (INTERFACES.md): every column of each kind and which ones are required."""

from __future__ import annotations

from typing import Literal

RecordKind = Literal["customers", "invoices", "payments", "credits"]
KINDS: tuple[RecordKind, ...] = ("customers", "invoices", "payments", "credits")

COLUMNS: dict[RecordKind, tuple[str, ...]] = {
    "customers": (
        "customer_id",
        "legal_name",
        "dba_name",
        "tin_type",
        "tin",
        "country",
        "ap_email",
        "phone",
        "timezone",
        "segment",
        "currency",
        "terms_days",
    ),
    "invoices": (
        "invoice_id",
        "customer_id",
        "number",
        "issue_date",
        "due_date",
        "currency",
        "amount",
        "balance",
        "po_number",
    ),
    "payments": ("payment_id", "customer_id", "invoice_id", "date", "amount", "currency", "method"),
    "credits": ("credit_id", "customer_id", "invoice_id", "date", "amount", "currency", "reason"),
}

# The column that names each row's record: a rejected row is reported by this id, never another column's value.
ID_COLUMN: dict[RecordKind, str] = {
    "customers": "customer_id",
    "invoices": "invoice_id",
    "payments": "payment_id",
    "credits": "credit_id",
}

# "Only the ids, dates, currency and amounts are required; empty means unknown."
REQUIRED: dict[RecordKind, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "invoices": ("invoice_id", "customer_id", "issue_date", "due_date", "currency", "amount"),
    "payments": ("payment_id", "customer_id", "date", "amount", "currency"),
    "credits": ("credit_id", "customer_id", "date", "amount", "currency"),
}


def missing_required(kind: RecordKind, provided: set[str]) -> list[str]:
    return [name for name in REQUIRED[kind] if name not in provided]
