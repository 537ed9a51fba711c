"""`arcollect outbox` prints what the local system sent as plain text: an address, a subject or an id that
holds markup or terminal escapes is shown, never obeyed."""

from __future__ import annotations

import io

import pytest

from arcollect.cli import local_cmd
from arcollect.cli.output import make_console


def test_an_outbox_message_with_hostile_fields_is_printed_as_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    console = make_console(force_terminal=True, width=200)
    console.file = out
    monkeypatch.setattr(local_cmd, "stdout", console)
    message = {
        "sent_at": "2026-11-23T09:00:00Z",
        "channel": "email",
        "to": "[link=https://evil.example]ap@x.com[/link]",
        "subject": "Invoice \x1b]8;;https://evil.example\x07due[/] \u202etxt.exe",
        "customer_id": "C1 [bold]",
        "invoice_ids": ["I1"],
    }

    local_cmd._print_outbox([message])

    printed = out.getvalue()
    assert "[link=https://evil.example]ap@x.com[/link]" in printed
    assert "\\x1b]8;;https://evil.example\\x07due[/] \\u202etxt.exe" in printed
    assert "customer C1 [bold]" in printed
    assert "\x1b]8" not in printed and "\u202e" not in printed
