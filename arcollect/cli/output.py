"""Printing for every command: `--json` for machines, rich tables for people, errors on stderr, and the
exit codes INTERFACES.md promises (0 done, 1 failed, 2 bad usage)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pydantic import BaseModel
from pynamodb.exceptions import PynamoDBException
from rich.console import Console

from shared.errors import DomainError

EXIT_FAILED = 1
EXIT_USAGE = 2

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(value: Any) -> None:
    """Machine output: models dumped in JSON mode (dates ISO, money as strings)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif hasattr(value, "as_dict"):
        value = value.as_dict()
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def fail(message: str, *, as_json: bool = False, code: int = EXIT_FAILED, details: list[str] | None = None) -> NoReturn:
    if as_json:
        emit_json({"error": {"message": message, "details": details or []}})
    else:
        stderr.print(f"[red]error:[/red] {message}", markup=True)
        for detail in details or []:
            stderr.print(f"  {detail}", markup=False)
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
