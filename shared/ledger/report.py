"""What an import tells its user: counts and every rejected or warned line."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from shared.ledger.formats import RecordKind

Severity = Literal["error", "warning"]
# A stored import record keeps at most this many problems; the report returned to the caller keeps all.
STORED_PROBLEMS_LIMIT = 1000


class ImportProblem(BaseModel):
    line: int
    severity: Severity
    reason: str
    record_id: str | None = None

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"line {self.line}: {prefix}{self.reason}"


class ImportReport(BaseModel):
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
    problems: list[ImportProblem] = Field(default_factory=list)

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
