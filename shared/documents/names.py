"""How a customer is named on documents and messages: without importing the PDF code."""

from __future__ import annotations

from shared.data.tables import CustomerRecord


def customer_name(customer: CustomerRecord) -> str:
    return customer.legal_name or customer.dba_name or customer.customer_id
