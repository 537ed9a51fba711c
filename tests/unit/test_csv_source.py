import pytest

from shared.errors import FileFormatError
from shared.ledger.csv_source import open_csv


def test_rows_carry_the_line_they_start_on_counting_the_header_as_line_1() -> None:
    data = b'id,note\nA,plain\nB,"two\nlines"\n\nC,after a blank line\n'
    rows = list(open_csv(data).rows())
    assert [(r.line, r.values["id"]) for r in rows] == [(2, "A"), (3, "B"), (6, "C")]
    assert rows[1].values["note"] == "two\nlines"


def test_a_utf8_bom_and_crlf_line_ends_are_accepted() -> None:
    source = open_csv("\ufeffid,name\r\nA,Zoë\r\n".encode())
    assert source.header == ["id", "name"]
    assert [r.values for r in source.rows()] == [{"id": "A", "name": "Zoë"}]
    assert source.row_count == 1


def test_short_rows_read_missing_cells_as_empty_and_long_rows_are_marked() -> None:
    rows = list(open_csv(b"a,b,c\n1\n1,2,3,4\n").rows())
    assert rows[0].values == {"a": "1", "b": "", "c": ""}
    assert rows[1].values["__extra__"] == "4"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("id,name\nA,Zoë\n".encode("latin-1"), "not UTF-8"),
        (b"", "empty"),
        (b"id,x\n\x00\x01\x02\n", "binary"),
        (b"id,,name\nA,B,C\n", "header row"),
        (b"id,id\nA,B\n", "repeats column"),
        (b'id,name\nA,"unterminated\n', "not valid CSV"),
    ],
)
def test_file_level_faults_are_refused_whole(data: bytes, message: str) -> None:
    with pytest.raises(FileFormatError, match=message):
        open_csv(data)
