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


def test_a_semicolon_separated_export_is_read_by_its_header() -> None:
    source = open_csv(b"Nr;Betrag\nRE-1;1.234,56\nRE-2;99,90;extra\n")
    rows = list(source.rows())
    assert source.header == ["Nr", "Betrag"]
    assert rows[0].values == {"Nr": "RE-1", "Betrag": "1.234,56"}
    assert rows[1].values["__extra__"] == "extra"


def test_a_comma_header_keeps_semicolons_inside_cells() -> None:
    rows = list(open_csv(b"id,note\nA,one;two\n").rows())
    assert rows[0].values == {"id": "A", "note": "one;two"}


def test_a_second_byte_order_mark_does_not_hide_the_first_column() -> None:
    assert open_csv("\ufeff\ufeffid,name\nA,B\n".encode()).header == ["id", "name"]


def test_mixed_line_ends_still_count_lines_as_an_editor_does() -> None:
    rows = list(open_csv(b"id,x\rA,1\nB,2\r\nC,3\n").rows())
    assert [(r.line, r.values["id"]) for r in rows] == [(2, "A"), (3, "B"), (4, "C")]


def test_a_field_beyond_the_size_limit_is_a_short_file_level_fault_with_its_line() -> None:
    with pytest.raises(FileFormatError) as caught:
        open_csv(b"id,x\nA,1\nB," + b"y" * (2 << 20) + b"\n")
    assert caught.value.message.startswith("the file is not valid CSV (line 3: field larger than field limit")
    assert len(caught.value.message) < 100


def test_a_repeated_long_or_hostile_header_name_is_quoted_short() -> None:
    name = "\x1b[2J" + "h" * 5000
    with pytest.raises(FileFormatError) as caught:
        open_csv(f"id,{name},{name}\nA,B,C\n".encode())
    assert caught.value.message == "the header repeats column(s): '\\x1b[2J" + "h" * 36 + "…'"


def test_a_header_wider_than_any_export_is_refused_before_it_is_checked() -> None:
    header = ",".join(f"c{i}" for i in range(200_000))
    with pytest.raises(FileFormatError, match="the header has 200000 columns; an import file has at most 1000"):
        open_csv(f"{header}\n".encode())


def test_a_decoding_fault_names_its_line() -> None:
    with pytest.raises(FileFormatError, match=r"not UTF-8 \(line 4, byte 15"):
        open_csv(b"id,x\nA,1\nB,2\nC,\xff\n")
