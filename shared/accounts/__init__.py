"""Customer accounts as staff and customers read them: balances, invoices, timeline."""
