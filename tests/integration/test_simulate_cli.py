"""`arcollect dunning simulate` against the local system's emulator: a small ledger imported as
`arcollect import` imports it, replayed under a policy file — the touches and totals an AR manager reads, a
second policy side by side, the exit codes of a bad file or a bad date, and nothing written."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from arcollect.cli.dunning_simulate import _touch_cells, simulate_command
from arcollect.cli.output import make_console
from arcollect.local.emulator import Emulator
from arcollect.local.state import LocalState, write_local_state
from shared.data.tables import InvoiceRecord
from shared.dunning.simulate import SimTouch
from shared.ledger.formats import RecordKind
from shared.ledger.importer import build_importer

TODAY = "2026-10-01"
CUSTOMERS = b"""customer_id,legal_name,country,ap_email,timezone,currency,terms_days
C1,Acme Industrial LLC,US,ap@acme-industrial.com,America/Chicago,USD,30
C2,Bright Water Supply,US,ap@brightwater-supply.com,America/New_York,USD,30
"""
# I1 and I2 fall due the same day (one message lists both); I3 is paid on 2026-10-20, after its due date.
INVOICES = b"""invoice_id,customer_id,number,issue_date,due_date,currency,amount
I1,C1,1001,2026-09-01,2026-10-01,USD,1000.00
I2,C1,1002,2026-09-01,2026-10-01,USD,250.00
I3,C2,2001,2026-09-15,2026-10-15,USD,400.00
"""
PAYMENTS = b"""payment_id,customer_id,invoice_id,date,amount,currency,method
P1,C2,I3,2026-10-20,400.00,USD,wire
"""
STANDARD = """policies:
  - name: standard
    send_window: {start: "09:00", end: "17:00", weekdays: [mon, tue, wed, thu, fri], holidays: US}
    steps:
      - {id: pre_due,  anchor: due_date, offset_days: -5, channel: email, template: pre_due}
      - {id: due,      anchor: due_date, offset_days: 0,  channel: email, template: due_today}
      - {id: late_1,   anchor: due_date, offset_days: 3,  channel: email, template: past_due}
      - {id: late_sms, anchor: due_date, offset_days: 10, channel: sms,   template: past_due_sms}
      - {id: call_1,   anchor: due_date, offset_days: 15, channel: call}
      - {id: firm,     anchor: due_date, offset_days: 21, channel: email, template: past_due_firm}
      - {id: final,    anchor: due_date, offset_days: 30, channel: email, template: final_notice, final: true}
      - {id: agency,   anchor: due_date, offset_days: 45, channel: agency, final: true}
segments:
  - {name: default, policy: standard}
"""
GENTLE = """policies:
  - name: gentle
    steps:
      - {id: due,    anchor: due_date, offset_days: 0,  channel: email, template: due_today}
      - {id: late_1, anchor: due_date, offset_days: 14, channel: email, template: past_due}
segments:
  - {name: default, policy: gentle}
"""
BROKEN = """policies:
  - name: standard
    steps:
      - {id: due, anchor: due_date, offset_days: soon, channel: email, template: due_today}
      - {id: late, anchor: paid_date, offset_days: 3, channel: pigeon}
segments:
  - {name: default, policy: standard}
"""

runner = CliRunner()


@pytest.fixture
def local_system(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The emulator as a running local system (`.arcollect/local.json` here, today 2026-10-01) holding the
    small ledger; yields the folder the policy files are written to."""
    settings = emulator.export_environment(today=TODAY)
    importer = build_importer(settings, clock=lambda: datetime(2026, 9, 25, 12, tzinfo=UTC))
    ledger: tuple[tuple[RecordKind, bytes], ...] = (
        ("customers", CUSTOMERS),
        ("invoices", INVOICES),
        ("payments", PAYMENTS),
    )
    for kind, data in ledger:
        report = importer.import_file(kind, data, source=f"{kind}.csv")
        assert report.ok, [str(p) for p in report.problems]
    state = LocalState(
        api_url="http://127.0.0.1:1",
        endpoint_url=emulator.endpoint_url,
        region=settings.region,
        table_prefix=settings.table_prefix,
        stage=settings.stage,
        tin_key_id=settings.tin_key_id or "",
        tin_mac_key_id=settings.tin_mac_key_id or "",
        ingest_bucket=settings.ingest_bucket or "",
        pid=os.getpid(),
        started_at=datetime(2026, 10, 1, 8, tzinfo=UTC),
        today=date.fromisoformat(TODAY),
    )
    write_local_state(state, tmp_path)
    monkeypatch.chdir(tmp_path)
    for name, text in (("standard.yaml", STANDARD), ("gentle.yaml", GENTLE), ("broken.yaml", BROKEN)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    yield tmp_path


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def dunning() -> None:
        """The `dunning` group, as the lead registers it."""

    app.command("simulate")(simulate_command)
    return app


def simulate(*args: str) -> Any:
    return runner.invoke(cli(), ["simulate", *args])


def stored_invoices() -> dict[str, dict[str, Any]]:
    return {r.invoice_id: r.serialize() for r in InvoiceRecord.scan(consistent_read=True)}


def test_json_lists_every_planned_touch_and_the_totals_and_nothing_is_written(local_system: Path) -> None:
    before = stored_invoices()

    result = simulate("--policy", "standard.yaml", "--days", "60", "--from", "2026-09-20", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert (document["from"], document["days"], document["compare"]) == ("2026-09-20", 60, None)
    touches = document["policy"]["touches"]
    both = [t for t in touches if t["customer_id"] == "C1"]
    assert both[0] == {
        "date": "2026-09-28",
        "customer_id": "C1",
        "invoice_ids": ["I1", "I2"],
        "channel": "email",
        "steps": ["pre_due"],
        "template": "pre_due",
        "fallback_from": None,
    }
    assert all(t["invoice_ids"] == ["I1", "I2"] for t in both)  # one message a day lists both invoices
    paid_late = [t["date"] for t in touches if "I3" in t["invoice_ids"]]
    assert paid_late and max(paid_late) < "2026-10-20"  # the payment the ledger shows arriving stops them
    totals = document["policy"]["totals"]
    assert totals["invoices"] == 3 and totals["invoices_touched"] == 3
    assert totals["late_invoices"] == {"count": 3, "touched_before_paid": 3, "share": 1.0}
    assert totals["messages"] == len([t for t in touches if t["channel"] in ("email", "sms")])
    assert totals["touches"] == sum(len(t["invoice_ids"]) for t in touches)
    assert totals["invoices_reaching_step"]["pre_due"] == 3
    assert stored_invoices() == before


def test_the_default_first_day_is_the_systems_today(local_system: Path) -> None:
    result = simulate("--policy", "standard.yaml", "--days", "30", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["from"] == TODAY
    # I1 and I2 arrive with pre_due already sent before today (replayed, not printed)
    first = next(t for t in document["policy"]["touches"] if t["customer_id"] == "C1")
    assert (first["date"], first["steps"]) == ("2026-10-01", ["due"])


def test_people_read_a_table_of_touches_then_the_totals(local_system: Path) -> None:
    result = simulate("--policy", "standard.yaml", "--days", "60", "--from", "2026-09-20", "--limit", "2")

    assert result.exit_code == 0, result.output
    out = result.output
    assert "2026-09-28" in out and "I1, I2" in out and "pre_due" in out
    assert "more touches" in out  # --limit 2 of more
    assert "late invoices touched before paid" in out and "3 of 3 (100%)" in out
    assert "messages per day (max / median)" in out


def test_a_second_policy_is_compared_side_by_side(local_system: Path) -> None:
    as_json = simulate(
        "--policy", "standard.yaml", "--compare", "gentle.yaml", "--days", "60", "--from", "2026-09-20", "--json"
    )
    table = simulate("--policy", "standard.yaml", "--compare", "gentle.yaml", "--days", "60", "--from", "2026-09-20")

    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.output)
    standard, gentle = document["policy"]["totals"], document["compare"]["totals"]
    assert gentle["touches"] < standard["touches"]
    assert set(gentle["invoices_reaching_step"]) == {"due", "late_1"}
    assert {"touches", "totals"} == set(document["compare"])
    assert table.exit_code == 0 and "standard.yaml" in table.output and "gentle.yaml" in table.output


def test_a_bad_policy_file_lists_its_problems_by_line_and_exits_1(local_system: Path) -> None:
    result = simulate("--policy", "broken.yaml", "--days", "30")

    assert result.exit_code == 1
    assert "line 4:" in result.output and "line 5:" in result.output
    as_json = simulate("--policy", "broken.yaml", "--days", "30", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.output)["error"]["details"]


def test_a_bad_date_or_day_count_is_bad_usage(local_system: Path) -> None:
    assert simulate("--policy", "standard.yaml", "--days", "30", "--from", "01/10/2026").exit_code == 2
    assert simulate("--policy", "standard.yaml", "--days", "0").exit_code == 2
    assert simulate("--policy", "standard.yaml", "--days", "3651").exit_code == 2
    assert simulate("--policy", "absent.yaml", "--days", "30").exit_code == 2


def test_stored_ids_are_printed_as_data_never_as_markup_or_terminal_codes() -> None:
    touch = SimTouch(date(2026, 10, 1), "[bold]C1\x1b[31m", ("I[/]1",), "email", ("due",), "due_today")
    console = make_console(force_terminal=True, width=200)

    with console.capture() as captured:
        console.print(*_touch_cells(touch))

    printed = captured.get()
    assert "[bold]C1\\x1b[31m" in printed and "I[/]1" in printed
    assert "\x1b[31m" not in printed
