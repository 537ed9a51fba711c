"""Documents a customer receives as files: invoice copies, account statements and dunning letters (PDF)."""
