"""`--map MAP.yaml`: turning another ERP's export into arcollect's import columns.

    columns:
      customer_id: {from: customerID}                  # rename
      issue_date: {from: InvoiceDate, date_format: "%m/%d/%Y"}   # reformat a date to ISO
      currency: {value: USD}                           # a constant
      payment_id: {template: "pay-{invoiceNumber}"}    # a template over source columns
    skip_if_empty: [SettledDate]                       # rows without these are not this kind of record

Columns the map does not name are taken from a source column of the same name, if there is one. One file
may hold a map per kind under `customers:`, `invoices:` and `payments:` (see maps/).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import FileFormatError
from shared.ledger.formats import COLUMNS, KINDS, RecordKind


class ColumnRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(default=None, alias="from")
    value: str | None = None
    template: str | None = None
    date_format: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ColumnRule:
        if sum(x is not None for x in (self.from_, self.value, self.template)) != 1:
            raise ValueError("give exactly one of `from`, `value` or `template`")
        return self

    def source_columns(self) -> list[str]:
        if self.from_ is not None:
            return [self.from_]
        if self.template is not None:
            return [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
        return []

    def apply(self, row: Mapping[str, str]) -> str:
        if self.value is not None:
            raw = self.value
        elif self.template is not None:
            raw = self.template.format_map({k: row.get(k, "") for k in self.source_columns()})
        else:
            raw = row.get(self.from_ or "", "")
        if self.date_format and raw:
            try:
                return datetime.strptime(raw, self.date_format).date().isoformat()
            except ValueError:
                return raw  # left as it is: the row check reports it as a bad date with its line
        return raw


class ColumnMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    skip_if_empty: list[str] = Field(default_factory=list)

    @classmethod
    def from_yaml(cls, text: str, kind: RecordKind) -> ColumnMap:
        """A map file holds one map, or one per kind under `customers:`, `invoices:`, `payments:` (so one
        file describes a whole ERP export)."""
        import yaml  # only a `--map` import needs it, never a Lambda cold start

        try:
            document: Any = yaml.safe_load(text) or {}
            if not isinstance(document, dict):
                raise FileFormatError("the column map must be a YAML mapping")
            if set(document) & set(KINDS):
                if kind not in document:
                    raise FileFormatError(f"the column map has no `{kind}:` section")
                document = document[kind] or {}
            return cls.model_validate(document)
        except (yaml.YAMLError, ValidationError) as exc:
            raise FileFormatError(f"the column map is not valid: {exc}") from exc

    def check_against(self, kind: RecordKind, header: list[str]) -> None:
        """A map that names an unknown target or a source column the file lacks is a file-level fault."""
        unknown = sorted(set(self.columns) - set(COLUMNS[kind]))
        if unknown:
            raise FileFormatError(f"the map names column(s) that {kind} do not have: {', '.join(unknown)}")
        missing = sorted(
            {src for rule in self.columns.values() for src in rule.source_columns()} | set(self.skip_if_empty)
        )
        absent = [name for name in missing if name not in header]
        if absent:
            raise FileFormatError(f"the map reads column(s) the file does not have: {', '.join(absent)}")

    def skips(self, row: Mapping[str, str]) -> bool:
        return any(not row.get(name, "").strip() for name in self.skip_if_empty)

    def apply(self, kind: RecordKind, row: Mapping[str, str]) -> dict[str, str]:
        mapped = {name: row[name] for name in COLUMNS[kind] if name in row}
        mapped.update({name: rule.apply(row) for name, rule in self.columns.items()})
        return mapped

    def provides(self, kind: RecordKind, header: list[str]) -> set[str]:
        return (set(header) & set(COLUMNS[kind])) | set(self.columns)
