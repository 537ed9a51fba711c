"""Reading an import file: decoding, CSV dialect, header checks and line numbers.

File-level faults raise FileFormatError before any row is yielded, so a bad file writes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from shared.errors import FileFormatError

csv.field_size_limit(1 << 20)


@dataclass(frozen=True)
class SourceRow:
    line: int  # the row's first line in the file; the header is line 1
    values: dict[str, str]


@dataclass
class CsvSource:
    header: list[str]
    text: str
    row_count: int

    def rows(self) -> Iterator[SourceRow]:
        reader = csv.reader(io.StringIO(self.text, newline=""))
        next(reader)
        line = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(self.header)}
                if len(cells) > len(self.header):
                    values["__extra__"] = ",".join(cells[len(self.header) :])
                yield SourceRow(line=line, values=values)
            line = reader.line_num + 1


def open_csv(data: bytes) -> CsvSource:
    """Decode and check an import file; raises FileFormatError for anything that is not a UTF-8 CSV."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"the file is not UTF-8 (byte {exc.start} cannot be decoded); export it as UTF-8 CSV"
        ) from exc
    if "\x00" in text:
        raise FileFormatError("the file is binary, not a CSV text file")
    if not text.strip():
        raise FileFormatError("the file is empty")
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = [name.strip() for name in next(reader)]
        row_count = sum(1 for cells in reader if any(cell.strip() for cell in cells))
    except csv.Error as exc:
        raise FileFormatError(f"the file is not valid CSV: {exc}") from exc
    if not all(header):
        raise FileFormatError("the first line must be a header row naming every column (comma-separated)")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise FileFormatError(f"the header repeats column(s): {', '.join(duplicates)}")
    return CsvSource(header=header, text=text, row_count=row_count)
