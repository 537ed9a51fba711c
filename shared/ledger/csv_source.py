"""Reading an import file: decoding, CSV dialect, header checks and line numbers.

File-level faults raise FileFormatError before any row is yielded, so a bad file writes nothing. Their
messages stay one short line whatever the file holds: names from the file are quoted through
`shared.money.quoted`, and a header wider than any export (MAX_COLUMNS) is refused before it costs time.

Cells are separated by commas, or by semicolons when the header line has semicolons and no comma: that is
how spreadsheets in decimal-comma locales write CSV (read their amounts with a column map's number_locale).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from shared.errors import FileFormatError
from shared.money import quoted

csv.field_size_limit(1 << 20)
MAX_COLUMNS = 1000


@dataclass(frozen=True)
class SourceRow:
    line: int  # the row's first line in the file; the header is line 1
    values: dict[str, str]


@dataclass
class CsvSource:
    header: list[str]
    text: str
    row_count: int
    delimiter: str = ","

    def rows(self) -> Iterator[SourceRow]:
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        next(reader)
        line = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(self.header)}
                if len(cells) > len(self.header):
                    values["__extra__"] = self.delimiter.join(cells[len(self.header) :])
                yield SourceRow(line=line, values=values)
            line = reader.line_num + 1


def open_csv(data: bytes) -> CsvSource:
    """Decode and check an import file; raises FileFormatError for anything that is not a UTF-8 CSV."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileFormatError(
            f"the file is not UTF-8 (line {line}, byte {exc.start} cannot be decoded); export it as UTF-8 CSV"
        ) from exc
    if "\x00" in text:
        raise FileFormatError("the file is binary, not a CSV text file")
    if not text.strip():
        raise FileFormatError("the file is empty")
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        # A second BOM (a file saved twice by a spreadsheet) must not hide the first column's name.
        header = [name.strip().lstrip("\ufeff").strip() for name in next(reader)]
        if len(header) > MAX_COLUMNS:
            raise FileFormatError(f"the header has {len(header)} columns; an import file has at most {MAX_COLUMNS}")
        row_count = sum(1 for cells in reader if any(cell.strip() for cell in cells))
    except csv.Error as exc:
        raise FileFormatError(f"the file is not valid CSV (line {reader.line_num}: {exc})") from exc
    if not all(header):
        raise FileFormatError("the first line must be a header row naming every column (comma-separated)")
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicates:
        shown = ", ".join(quoted(name) for name in duplicates[:10])
        raise FileFormatError(f"the header repeats column(s): {shown}")
    return CsvSource(header=header, text=text, row_count=row_count, delimiter=delimiter)


def _delimiter(text: str) -> str:
    end = text.find("\n")
    first_line = text[: end if end >= 0 else len(text)]
    return ";" if ";" in first_line and "," not in first_line else ","
