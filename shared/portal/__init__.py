"""The customer portal: access by signed links and sessions, the account a customer reads, what it can do."""
