"""Data access: PynamoDB table models (the single source of the table schemas) and repositories."""
