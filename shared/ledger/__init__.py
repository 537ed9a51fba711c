"""The ledger: importing the ERP's customers, invoices and payments, and keeping balances right."""
