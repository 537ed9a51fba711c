"""Stored text printed by the command line is data: never markup, never a terminal sequence, and exact in JSON."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from arcollect.cli.output import json_text, make_console, plain, safe_text

UNSAFE = [chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))]


def rendered(value: object) -> str:
    """What a real terminal would receive: colours on, so styles and links would be emitted if parsed."""
    console, out = make_console(force_terminal=True, width=200), io.StringIO()
    console.file = out
    console.print(plain(value))
    return out.getvalue()


def test_every_control_character_and_bidi_override_is_shown_as_an_escape() -> None:
    for char in UNSAFE:
        shown = safe_text(f"a{char}b")
        assert char not in shown and shown.startswith("a\\") and shown.endswith("b"), repr(char)


def test_escapes_name_the_character_they_replace() -> None:
    assert safe_text("\x1b[2J") == "\\x1b[2J"
    assert safe_text("\x9b31m") == "\\x9b31m"
    assert safe_text("abc\u202edef") == "abc\\u202edef"
    assert safe_text("two\nlines\tand\rreturn") == "two\\nlines\\tand\\rreturn"


def test_ordinary_unicode_is_left_as_it_is() -> None:
    for name in ("Müller GmbH", "東京商事株式会社", "شركة الخليج", "Smith & Sons 👨‍👩‍👧", "Zoë\u2019s Café — 50%"):
        assert safe_text(name) == name


def test_brackets_are_printed_literally_not_parsed_as_markup() -> None:
    assert "Smith [/] Sons" in rendered("Smith [/] Sons")
    assert "[bold]x[/bold]" in rendered("[bold]x[/bold]")


def test_a_link_in_stored_text_never_becomes_a_live_link() -> None:
    out = rendered("[link=https://evil.example]pay here[/link]")
    assert "\x1b]8" not in out
    assert "[link=https://evil.example]pay here[/link]" in out


def test_emoji_codes_are_printed_as_typed() -> None:
    assert ":smile:" in rendered("ACME :smile:")


def test_a_terminal_receives_no_escape_sequence_from_data() -> None:
    hostile = "A\x1b[2J\x1b]0;owned\x07B\x9b31mC\u202eD\x7f"
    out = rendered(hostile)
    for char in ("\x07", "\x9b", "\u202e", "\x7f", "\x1b]"):
        assert char not in out
    assert "\x1b[2J" not in out
    assert "A\\x1b[2J\\x1b]0;owned\\x07B\\x9b31mC\\u202eD\\x7f" in out


def test_json_keeps_every_character_of_the_data() -> None:
    value = {"legal_name": "Smith [/] Sons\x1b[2J\x9b\u202e\u2066\x7f Müller", "ids": ["[link=x]y[/link]"]}
    assert json.loads(json_text(value)) == value


@given(st.text())
def test_json_round_trips_any_text_and_carries_no_raw_control_character(text: str) -> None:
    out = json_text({"name": text})
    assert json.loads(out) == {"name": text}
    assert not any(char in out for char in UNSAFE if char != "\n")  # newlines are the indentation


@given(st.text())
def test_safe_text_never_lets_an_unsafe_character_through(text: str) -> None:
    assert not any(char in safe_text(text) for char in UNSAFE)


def test_the_consoles_do_not_replace_emoji_codes_even_in_plain_strings() -> None:
    console, out = make_console(width=100), io.StringIO()
    console.file = out
    console.print("ACME :smile:", markup=False)
    assert ":smile:" in out.getvalue()
