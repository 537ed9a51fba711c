"""`arcollect local [--port 8000] [--demo] [--today YYYY-MM-DD] [--fresh]` and `arcollect outbox [--to ADDRESS]`."""

from __future__ import annotations

import datetime as dt
import errno
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from arcollect.cli.output import EXIT_USAGE, emit_json, fail, plain, stderr, stdout

if TYPE_CHECKING:  # the local system pulls in moto; only `arcollect local` should pay for that import
    from arcollect.local.persistence import SavedStateInfo
    from arcollect.local.state import LocalState
    from arcollect.local.system import LocalSystem


def register(app: typer.Typer) -> None:
    app.command("local")(local_command)
    app.command("outbox")(outbox_command)


# --- arcollect local -----------------------------------------------------------------------------------


def _parse_today(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (expected YYYY-MM-DD)") from None


def _import_counts(report: Any) -> dict[str, int]:
    return {name: int(getattr(report, name, 0)) for name in ("rows", "created", "updated", "unchanged", "rejected")}


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


class _HumanEvents:
    def discarded(self, path: Path) -> None:
        stdout.print(f"--fresh: discarded the data saved by earlier runs ({path})", markup=False)

    def restored(self, info: SavedStateInfo, seconds: float) -> None:
        saved_at = info.saved_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        stdout.print(
            f"Restored the data saved at {saved_at} ({_megabytes(info.size_bytes)}); --fresh starts empty",
            markup=False,
        )

    def demo_skipped(self) -> None:
        stdout.print("Kept the existing data: the demo ledger is loaded only into an empty system (--fresh empties it)")

    def saved(self, path: Path, seconds: float) -> None:
        stdout.print(f"Saved the data to {path} in {seconds:.1f} s", markup=False)

    def save_failed(self, reason: str) -> None:
        stderr.print(f"Could not save the data: {reason}", markup=False)

    def serving(self, system: LocalSystem, seconds: float) -> None:
        stdout.print(f"[bold]arcollect local[/bold] is serving (up in {seconds:.1f} s)")
        stdout.print(f"  API and portal   {system.api_url}/")
        stdout.print(f"  Outbox           {system.outbox_url}   (or: arcollect outbox)")
        stdout.print(f"  AWS emulator     {system.emulator.endpoint_url}   (AWS_ENDPOINT_URL)")
        if system.options.today is not None:
            stdout.print(f"  Today            {system.options.today.isoformat()}")
        if system.options.demo:
            stdout.print("Loading the demo ledger…")

    def demo_loaded(self, reports: Mapping[str, Any], seconds: float) -> None:
        parts = [f"{_import_counts(r)['rows']} {kind}" for kind, r in reports.items()]
        rejected = sum(_import_counts(r)["rejected"] for r in reports.values())
        stdout.print(f"Demo ledger loaded in {seconds:.1f} s: {', '.join(parts)} ({rejected} rejected)")
        stdout.print("  standard dunning policy active: try `arcollect dunning run --wait`, then `arcollect outbox`")
        for kind, report in reports.items():
            for problem in getattr(report, "problems", [])[:5]:
                stdout.print(plain(f"  {kind}: {problem}"))

    def sign_in(self, customer_id: str, url: str, expires_at: dt.datetime) -> None:
        until = expires_at.astimezone(dt.UTC).strftime("%Y-%m-%d")
        stdout.print(f"  Portal sign-in for demo customer {customer_id} (valid until {until}):", markup=False)
        stdout.print(f"    {url}", markup=False, soft_wrap=True)

    def ready(self, state: LocalState, seconds: float) -> None:
        stdout.print(f"Ready in {seconds:.1f} s. Press Ctrl-C to stop.")

    def stopped(self) -> None:
        stdout.print("Stopped.")


class _JsonEvents:
    """One JSON object per line, as each stage is reached (the command runs until stopped)."""

    @staticmethod
    def _emit(event: str, **fields: Any) -> None:
        typer.echo(json.dumps({"event": event, **fields}, default=str))

    def discarded(self, path: Path) -> None:
        self._emit("discarded", path=str(path))

    def restored(self, info: SavedStateInfo, seconds: float) -> None:
        self._emit(
            "restored", saved_at=info.saved_at.isoformat(), size_bytes=info.size_bytes, seconds=round(seconds, 3)
        )

    def demo_skipped(self) -> None:
        self._emit("demo_skipped", reason="the system already holds data")

    def saved(self, path: Path, seconds: float) -> None:
        self._emit("saved", path=str(path), seconds=round(seconds, 3))

    def save_failed(self, reason: str) -> None:
        self._emit("save_failed", reason=reason)

    def serving(self, system: LocalSystem, seconds: float) -> None:
        self._emit(
            "serving",
            api_url=system.api_url,
            outbox_url=system.outbox_url,
            endpoint_url=system.emulator.endpoint_url,
            seconds=round(seconds, 3),
        )

    def demo_loaded(self, reports: Mapping[str, Any], seconds: float) -> None:
        self._emit(
            "demo_loaded", imports={kind: _import_counts(r) for kind, r in reports.items()}, seconds=round(seconds, 3)
        )

    def sign_in(self, customer_id: str, url: str, expires_at: dt.datetime) -> None:
        self._emit("sign_in", customer_id=customer_id, url=url, expires_at=expires_at.isoformat())

    def ready(self, state: LocalState, seconds: float) -> None:
        self._emit("ready", **state.model_dump(mode="json"), outbox_url=state.outbox_url, seconds=round(seconds, 3))

    def stopped(self) -> None:
        self._emit("stopped")


def local_command(
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port of the API and portal (0: any free one)."),
    demo: bool = typer.Option(
        False, "--demo", help="Load a synthetic demo ledger (50 customers, 500 invoices) into an empty system."
    ),
    today: str | None = typer.Option(None, "--today", metavar="YYYY-MM-DD", help="Run as if today were this date."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard the data kept from earlier runs and start empty."),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON lines (serving, restored, demo_loaded, ready, saved, stopped)."
    ),
) -> None:
    """Run the whole system on this machine with an embedded AWS emulator, until Ctrl-C or SIGTERM.
    Keeps its data in .arcollect/ (here) across restarts: saved every minute and on the way out. Writes
    .arcollect/local.json once ready (then /health answers 200), so the other commands find it."""
    from arcollect.local.persistence import SavedStateError
    from arcollect.local.state import load_local_state
    from arcollect.local.system import AlreadyRunning, LocalOptions, run_local_system

    options = LocalOptions(port=port, demo=demo, today=_parse_today(today), fresh=fresh)
    running = load_local_state()
    if running is not None:
        fail(f"a local system is already running here (pid {running.pid}, {running.api_url})", as_json=as_json)
    try:
        run_local_system(options, _JsonEvents() if as_json else _HumanEvents())
    except AlreadyRunning as exc:
        fail(str(exc), as_json=as_json)
    except SavedStateError as exc:
        fail(str(exc), as_json=as_json)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            fail(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}", as_json=as_json)
        fail(f"the local system stopped: {exc}", as_json=as_json)


# --- arcollect outbox ----------------------------------------------------------------------------------


def _fetch_outbox(state: LocalState, to: str | None) -> list[dict[str, Any]]:
    query = f"?{urllib.parse.urlencode({'to': to})}" if to else ""
    with urllib.request.urlopen(f"{state.outbox_url}{query}", timeout=30) as response:
        messages: list[dict[str, Any]] = json.loads(response.read())
    return messages


def _print_outbox(messages: list[dict[str, Any]]) -> None:
    """Three short lines per message (when and to whom; what; about what), readable at any width."""
    for message in messages:
        when = (message.get("sent_at") or "")[:19].replace("T", " ") or "-"
        stdout.print(Text.assemble(plain(when, "bold"), "  ", plain(f"{message['channel']:5}  {message['to']}")))
        text = message.get("subject") or (message.get("body_text") or "").replace("\n", " ")
        stdout.print(plain(f"  {text if len(text) <= 100 else text[:99] + '…'}"))
        about = []
        if message.get("customer_id"):
            about.append(f"customer {message['customer_id']}")
        if message.get("invoice_ids"):
            about.append(f"invoices {', '.join(message['invoice_ids'])}")
        if message.get("steps"):
            about.append(f"step {', '.join(message['steps'])}")
        for name, plural in (("attachments", "attachment"), ("links", "link")):
            count = len(message.get(name) or [])
            if count:
                about.append(f"{count} {plural}{'s' if count > 1 else ''}")
        if about:
            stdout.print(plain(f"  {' · '.join(about)}"))
    stdout.print(f"{len(messages)} message{'s' if len(messages) != 1 else ''}", markup=False)


def outbox_command(
    to: str | None = typer.Option(None, "--to", metavar="ADDRESS", help="Only messages to this address or number."),
    as_json: bool = typer.Option(False, "--json", help="Print the messages as JSON."),
) -> None:
    """Local mode: the emails and SMS the running local system "sent", oldest first."""
    from arcollect.local.state import load_local_state

    if to is not None and not to.strip():
        fail("--to needs an address or a phone number", as_json=as_json, code=EXIT_USAGE)
    state = load_local_state()
    if state is None:
        fail("no local system is running here: start one with `arcollect local`", as_json=as_json)
    try:
        messages = _fetch_outbox(state, to)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        fail(f"cannot read the outbox at {state.outbox_url}: {exc}", as_json=as_json)
    if as_json:
        emit_json(messages)
    elif not messages:
        stderr.print(plain("The outbox is empty" + (f" for {to}." if to else ".")))
    else:
        _print_outbox(messages)
