"""What an import tells its user: counts and every rejected or warned line.

Plain dataclasses: the report is built row by row on the ingest Lambda's hot path and only turned into
JSON at the end (`as_dict`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from shared.ledger.formats import RecordKind

Severity = Literal["error", "warning"]
# A stored import record keeps at most this many problems; the report returned to the caller keeps all.
STORED_PROBLEMS_LIMIT = 1000
COUNTS = ("rows", "created", "updated", "unchanged", "skipped", "rejected", "warnings")


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int
    severity: Severity
    reason: str
    record_id: str | None = None

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"line {self.line}: {prefix}{self.reason}"


@dataclass
class ImportReport:
    import_id: str
    kind: RecordKind
    source: str
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # rows a column map's `skip_if_empty` left out: not this kind of record
    rejected: int = 0
    warnings: int = 0
    problems: list[ImportProblem] = field(default_factory=list)

    def reject(self, line: int, reason: str, record_id: str | None = None) -> None:
        self.rejected += 1
        self.problems.append(ImportProblem(line=line, severity="error", reason=reason, record_id=record_id))

    def warn(self, line: int, reason: str, record_id: str | None = None) -> None:
        self.warnings += 1
        self.problems.append(ImportProblem(line=line, severity="warning", reason=reason, record_id=record_id))

    def count(self, outcome: Literal["created", "updated", "unchanged"]) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: what `--json`, the S3 report object and the import record carry."""
        return asdict(self)
