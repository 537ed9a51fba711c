"""Printing for every command: `--json` for machines, rich tables for people, errors on stderr, and the
exit codes INTERFACES.md promises (0 done, 1 failed, 2 bad usage).

Stored text comes from ERP exports and customers' own hands, so it is printed as data, never as markup:
every value reaches Rich as a `Text` made by `plain()`, whose characters were passed through `safe_text()`
so no escape sequence, control character or bidi override reaches the terminal."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pydantic import BaseModel
from pynamodb.exceptions import PynamoDBException
from rich.console import Console
from rich.text import Text

from shared.errors import DomainError

EXIT_FAILED = 1
EXIT_USAGE = 2


def make_console(*, stderr: bool = False, force_terminal: bool | None = None, width: int | None = None) -> Console:
    """The one console configuration (tests build a terminal one with it). emoji=False: a name holding
    `:smile:` is printed as typed, even where a caller prints a plain string."""
    return Console(
        stderr=stderr, highlight=False, soft_wrap=True, emoji=False, force_terminal=force_terminal, width=width
    )


stdout = make_console()
stderr = make_console(stderr=True)

# C0 controls (ESC starts CSI/OSC sequences; CR and BS overwrite what was printed), DEL, C1 controls (CSI
# and OSC have one-byte forms there) and the bidi embeddings, overrides and isolates that make text read
# differently from what it holds.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# JSON already escapes C0; the rest of the set above would be printed raw with ensure_ascii=False.
_JSON_RAW_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) <= 0xFF else f"\\u{ord(char):04x}"


def safe_text(value: object) -> str:
    """The value as inert text: each unsafe character shown as its escape (`\\x1b`, `\\u202e`), so a
    reader sees that the data holds it and the terminal never acts on it."""
    return _UNSAFE.sub(_escaped, str(value))


def plain(value: object, style: str = "") -> Text:
    """Data for Rich: never parsed as markup or emoji codes, never carrying a control character."""
    return Text(safe_text(value), style=style)


def json_text(value: Any) -> str:
    """Exact JSON (a script reads back every character of the data) that is still safe on a terminal:
    characters JSON leaves raw are written as `\\uXXXX`, which only ever occur inside strings."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _JSON_RAW_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def emit_json(value: Any) -> None:
    """Machine output: models dumped in JSON mode (dates ISO, money as strings)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif hasattr(value, "as_dict"):
        value = value.as_dict()
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    typer.echo(json_text(value))


def fail(message: str, *, as_json: bool = False, code: int = EXIT_FAILED, details: list[str] | None = None) -> NoReturn:
    if as_json:
        emit_json({"error": {"message": message, "details": details or []}})
    else:
        stderr.print(Text.assemble(("error:", "red"), " ", plain(message)))
        for detail in details or []:
            stderr.print(Text.assemble("  ", plain(detail)))
    raise typer.Exit(code)


@contextmanager
def reported_errors(as_json: bool, where: Callable[[], str] | None = None) -> Iterator[None]:
    """Turn the failures a user can meet into one clear line and exit 1, never a traceback."""
    try:
        yield
    except DomainError as exc:
        fail(exc.message, as_json=as_json, details=exc.details)
    except (BotoCoreError, ClientError, PynamoDBException) as exc:
        target = f" ({where()})" if where else ""
        if isinstance(exc, NoCredentialsError) or isinstance(getattr(exc, "cause", None), NoCredentialsError):
            fail(
                f"no local system is running here and there are no AWS credentials{target}: start "
                "`arcollect local` in this directory, or configure AWS credentials for a deployed stage",
                as_json=as_json,
            )
        fail(f"AWS request failed{target}: {exc}", as_json=as_json)
