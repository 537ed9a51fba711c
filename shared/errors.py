"""Domain exceptions. They are mapped to HTTP statuses, ASL Catch clauses and CLI exit codes in one place
each (the API resolver, the state machine definitions, the command line), never where they are raised."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose; `code` is stable and machine-readable."""

    code = "domain_error"

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class ValidationError(DomainError):
    """The input cannot be stored as given."""

    code = "validation_error"


class NotFoundError(DomainError):
    code = "not_found"


class ConflictError(DomainError):
    """The input contradicts what is already stored (an id reused for something else)."""

    code = "conflict"


class FileFormatError(DomainError):
    """A whole file is unusable (not UTF-8, not CSV, a required column missing): nothing is written."""

    code = "bad_file"


class ColumnMapError(DomainError):
    """A `--map` file is unusable (bad YAML, unknown keys, a column it names is absent): bad usage, exit 2."""

    code = "bad_map"


class Unauthorized(DomainError):
    """No valid credentials for this route (a missing, forged, expired, revoked or other-purpose token). The
    message says which, never the token."""

    code = "unauthorized"


class TooManyRequests(DomainError):
    """A per-address or per-customer limit was reached; `retry_after` is in seconds."""

    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int, details: list[str] | None = None) -> None:
        super().__init__(message, details)
        self.retry_after = retry_after


class NotImplementedYet(DomainError):
    """A route of the contract whose capability has not landed yet (e.g. Stripe payments, KPI reports)."""

    code = "not_implemented"
