"""`--map MAP.yaml`: turning another ERP's export into arcollect's import columns.

    columns:
      customer_id: {from: customerID}                  # rename
      issue_date: {from: InvoiceDate, date_format: "%m/%d/%Y"}   # reformat a date to ISO
      currency: {value: USD}                           # a constant
      payment_id: {template: "pay-{invoiceNumber}"}    # a template over source columns
    skip_if_empty: [SettledDate]                       # rows without these are not this kind of record
    number_locale: de_DE                               # amounts written as in Germany: 1.234,56

Columns the map does not name are taken from a source column of the same name, if there is one. One file
may hold a map per kind under `customers:`, `invoices:`, `payments:` and `credits:` (see maps/); a
top-level `number_locale:` then applies to every section that does not set its own.

`number_locale` (a CLDR locale such as de_DE, fr_FR, es_ES, de_CH) says how the export writes the amount
columns (`amount`, `balance`): babel's strict locale-aware parser reads them, and the row checks then see
the plain form (`1.234,56` → `1234.56`). Around babel only ASCII digits, the locale's decimal and group
symbols and a leading sign are let through (babel alone also takes `1e3`, `NaN` and other scripts' digits),
and any kind of space counts as the group symbol of a locale that groups with one (fr_FR writes
`1 234,56`). A value it cannot read rejects its row with the reason, like any other bad value.

A map that cannot be used (bad YAML, unknown keys, a rule with no or two sources, a section for an unknown
kind, a target that is not an arcollect column) raises ColumnMapError with one line naming the key and its
line; so does a map that reads a column the file lacks (check_against: the map is not for this export).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from shared.errors import ColumnMapError, ValidationError
from shared.ledger.formats import COLUMNS, KINDS, RecordKind
from shared.ledger.rows import UNREADABLE
from shared.money import MAX_AMOUNT_CHARS, quoted

if TYPE_CHECKING:  # babel is imported only when a map names a number_locale
    from babel import Locale

AMOUNT_COLUMNS = ("amount", "balance")
MAX_MAP_CHARS = 1 << 20
_SECTION_KEYS = "columns, skip_if_empty, number_locale"
_RULE_KEYS = "from, value, template, date_format"
_SPACES = " \u00a0\u2009\u202f"
_ASCII_DIGITS = frozenset("0123456789")


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

    @field_validator("template")
    @classmethod
    def _plain_fields(cls, template: str | None) -> str | None:
        """Only `{column name}` fields: no positions, attributes, indexes, conversions or widths, which could
        read more than a cell or build a huge value."""
        if template is None:
            return None
        try:
            fields = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise ValueError(f"the template is not valid ({exc})") from exc
        for _, name, spec, conversion in fields:
            if name is None:
                continue
            if not name or "." in name or "[" in name or spec or conversion:
                raise ValueError("template fields must be plain column names, such as {invoiceNumber}")
        return template

    @field_validator("date_format")
    @classmethod
    def _strptime_format(cls, date_format: str | None) -> str | None:
        if date_format is None:
            return None
        try:
            datetime.strptime(datetime(2024, 12, 31).strftime(date_format), date_format)
        except ValueError as exc:
            raise ValueError(f"{quoted(date_format)} is not a date format such as %m/%d/%Y") from exc
        return date_format

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
    number_locale: str | None = None

    @field_validator("number_locale")
    @classmethod
    def _known_locale(cls, identifier: str | None) -> str | None:
        if identifier is None:
            return None
        from babel import Locale, UnknownLocaleError  # only maps that name a locale pay for babel

        try:
            return str(Locale.parse(identifier.replace("-", "_")))
        except (UnknownLocaleError, ValueError) as exc:
            raise ValueError(f"{quoted(identifier)} is not a locale babel knows (such as de_DE or fr_FR)") from exc

    @classmethod
    def from_yaml(cls, text: str, kind: RecordKind) -> ColumnMap:
        """A map file holds one map, or one per kind under `customers:`, `invoices:`, `payments:`,
        `credits:` (so one file describes a whole ERP export). Every section is checked, not only `kind`'s."""
        import yaml  # only a `--map` import needs it, never a Lambda cold start

        if len(text) > MAX_MAP_CHARS:
            raise ColumnMapError(f"the column map is {len(text)} characters long; a map is at most {MAX_MAP_CHARS}")
        try:
            document: Any = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ColumnMapError(_yaml_problem(exc)) from exc
        if document is None:
            document = {}
        if not isinstance(document, dict):
            raise ColumnMapError(
                "the column map must be a YAML mapping (keys such as `columns:`), not a list or a value"
            )

        if not set(document) & set(KINDS):
            return cls._section(text, document, kind, ())
        unknown = [key for key in document if key not in KINDS and key != "number_locale"]
        if unknown:
            raise ColumnMapError(
                f"column map{_at(text, (unknown[0],))}: unknown section {_name(unknown[0])} "
                f"(sections: {', '.join(KINDS)}, and number_locale)"
            )
        sections = {}
        for section_kind in KINDS:
            if section_kind not in document:
                continue
            body = document[section_kind] or {}
            if not isinstance(body, dict):
                raise ColumnMapError(
                    f"column map{_at(text, (section_kind,))}: the `{section_kind}:` section must be a mapping"
                )
            if "number_locale" in document and "number_locale" not in body:
                body = {**body, "number_locale": document["number_locale"]}
            sections[section_kind] = cls._section(text, body, section_kind, (section_kind,))
        if kind not in sections:
            raise ColumnMapError(f"the column map has no `{kind}:` section (it has: {', '.join(sections)})")
        return sections[kind]

    @classmethod
    def _section(cls, text: str, body: dict[Any, Any], kind: RecordKind, where: tuple[str, ...]) -> ColumnMap:
        try:
            section = cls.model_validate(body)
        except PydanticValidationError as exc:
            raise ColumnMapError(_pydantic_problem(text, exc, where)) from exc
        for name in section.columns:
            if name not in COLUMNS[kind]:
                raise ColumnMapError(
                    f"column map{_at(text, (*where, 'columns', name))}: {_name(name)} is not a column of {kind} "
                    f"(its columns: {', '.join(COLUMNS[kind])})"
                )
        return section

    def check_against(self, kind: RecordKind, header: list[str]) -> None:
        """A map that names an unknown target, or reads a column this file lacks, is not a map for this file:
        ColumnMapError, before any row is read."""
        unknown = sorted(set(self.columns) - set(COLUMNS[kind]))
        if unknown:
            raise ColumnMapError(f"the map names column(s) that {kind} do not have: {_names(unknown)}")
        wanted = sorted(
            {src for rule in self.columns.values() for src in rule.source_columns()} | set(self.skip_if_empty)
        )
        absent = [name for name in wanted if name not in header]
        if absent:
            raise ColumnMapError(f"the map reads column(s) the file does not have: {_names(absent)}")

    def skips(self, row: Mapping[str, str]) -> bool:
        return any(not row.get(name, "").strip() for name in self.skip_if_empty)

    def apply(self, kind: RecordKind, row: Mapping[str, str]) -> dict[str, str]:
        """The row in arcollect's columns, id column first (a report names a rejected row by it). An amount
        the map's number_locale cannot read is left for the row check to reject, under rows.UNREADABLE."""
        mapped: dict[str, str] = {}
        for name in COLUMNS[kind]:
            rule = self.columns.get(name)
            if rule is not None:
                mapped[name] = rule.apply(row)
            elif name in row:
                mapped[name] = row[name]
        if self.number_locale is not None:
            for column in AMOUNT_COLUMNS:
                raw = mapped.get(column, "").strip()
                if not raw:
                    continue
                try:
                    mapped[column] = plain_amount(raw, self.number_locale)
                except ValidationError as exc:
                    mapped.setdefault(UNREADABLE, f"{column} {exc.message}")
        return mapped

    def provides(self, kind: RecordKind, header: list[str]) -> set[str]:
        return (set(header) & set(COLUMNS[kind])) | set(self.columns)


@dataclass(frozen=True)
class _NumberFormat:
    locale: Locale
    decimal_symbol: str
    group_symbol: str
    example: str  # how the locale writes 1234.56, for the reason a value is refused
    characters: frozenset[str]  # all an amount may hold besides a leading sign


@lru_cache(maxsize=32)
def _number_format(identifier: str) -> _NumberFormat:
    """Parsed once per map: babel given a Locale rather than its name parses amounts twice as fast."""
    from babel import Locale
    from babel.numbers import format_decimal, get_decimal_symbol, get_group_symbol

    locale = Locale.parse(identifier)
    decimal_symbol, group_symbol = get_decimal_symbol(locale), get_group_symbol(locale)
    return _NumberFormat(
        locale=locale,
        decimal_symbol=decimal_symbol,
        group_symbol=group_symbol,
        example=format_decimal(Decimal("1234.56"), locale=locale),
        characters=_ASCII_DIGITS | {decimal_symbol, group_symbol},
    )


def plain_amount(text: str, locale: str) -> str:
    """An amount as written in `locale` → the plain form `parse_amount` reads (de_DE `1.234,56` → `1234.56`);
    raises ValidationError with the reason when babel's strict parser, or the guard around it, refuses it."""
    from babel.numbers import NumberFormatError, parse_decimal

    number_format = _number_format(locale)
    group_symbol = number_format.group_symbol
    cleaned = text.strip()
    if len(cleaned) > MAX_AMOUNT_CHARS:
        raise ValidationError(f"{quoted(cleaned)} is too long to be an amount ({len(cleaned)} characters)")
    if group_symbol in _SPACES:
        cleaned = re.sub(f"[{_SPACES}]", group_symbol, cleaned)
    used = set(cleaned[1:] if cleaned[:1] in "+-" else cleaned)
    if used & _ASCII_DIGITS and used <= number_format.characters:
        try:
            return format(parse_decimal(cleaned, locale=number_format.locale, strict=True), "f")
        except NumberFormatError:
            pass
    raise ValidationError(
        f"{quoted(text.strip())} is not an amount as written in {locale} (such as {number_format.example})"
    )


def _name(key: object) -> str:
    return f"`{quoted(str(key))[1:-1]}`"


def _names(keys: list[str]) -> str:
    shown = ", ".join(_name(key) for key in keys[:10])
    return shown + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    said = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    problem = " ".join(" ".join(str(part) for part in said if part).split()) or "it cannot be read"
    problem = quoted(problem, 120)[1:-1]  # yaml's words may hold an anchor's or a tag's name from the file
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"the column map is not valid YAML{where}: {problem}"


def _pydantic_problem(text: str, exc: PydanticValidationError, where: tuple[str, ...]) -> str:
    """The first problem as one line naming its key and line, in the map's own words, not pydantic's dump."""
    error = exc.errors()[0]
    path = (*where, *(p for p in error["loc"] if p not in ("[key]",)))
    key = path[-1] if path else ""
    match error["type"]:
        case "extra_forbidden":
            expected = _RULE_KEYS if len(path) >= len(where) + 3 else _SECTION_KEYS
            reason = f"unknown key {_name(key)} (expected one of {expected})"
        case "string_type":
            reason = "must be text (put it in quotes)"
        case "dict_type" | "model_type" | "model_attributes_type":
            reason = "must be a mapping of keys to values"
        case "list_type":
            reason = "must be a list of column names"
        case "value_error":
            reason = str(error["ctx"]["error"])
        case _:
            reason = str(error["msg"])
    shown = ".".join(str(p) for p in path)
    more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
    return f"column map{_at(text, path)}, {quoted(shown, 80)[1:-1]}: {reason}{more}"


def _at(text: str, path: tuple[Any, ...]) -> str:
    """` line N` for the key at `path` in the map's YAML, or nothing when it cannot be found."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return ""
    line = None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return f" line {line}" if line is not None else ""
