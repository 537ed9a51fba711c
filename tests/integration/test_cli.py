"""The command line against the in-process AWS: what a user types and reads, and the exit codes."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arcollect.cli import customers_cmd, output
from arcollect.cli.app import app
from arcollect.cli.output import make_console
from shared.data.tables import CustomerRecord
from shared.ledger.formats import KINDS

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    contents = {
        "customers": "customer_id,legal_name,tin_type,tin,ap_email,currency,terms_days\n"
        "C1,Acme Industrial LLC,ein,12-3456789,ap@acme-industrial.com,USD,30\n"
        "C2,Bad Mail Co,,,not-an-email,USD,30\n"
        "C3,Bad Terms Co,,,ap@bad-terms.com,USD,soon\n",
        "invoices": "invoice_id,customer_id,number,issue_date,due_date,currency,amount,balance,po_number\n"
        "I1,C1,1001,2026-09-01,2026-10-01,USD,1000.00,,\n"
        "I2,C1,1002,2026-11-01,2026-12-01,USD,250.00,,\n",
        "payments": "payment_id,customer_id,invoice_id,date,amount,currency,method\n"
        "P1,C1,I1,2026-11-01,1100.00,USD,wire\n",
    }
    paths = {}
    for kind, text in contents.items():
        paths[kind] = tmp_path / f"{kind}.csv"
        paths[kind].write_text(text)
    return paths


def run(*args: str):
    return runner.invoke(app, [*args, "--stage", "test"])


def run_wide(*args: str):
    """On a terminal wide enough that no table cell wraps, so a name can be looked for whole. Rich fixes a
    console's width when it is made (from COLUMNS if set then), so the shared consoles are widened here."""
    consoles = (output.stdout, output.stderr)
    widths = [c._width for c in consoles]
    for console in consoles:
        console._width = 400
    try:
        return runner.invoke(app, [*args, "--stage", "test"], env={"COLUMNS": "400"})
    finally:
        for console, width in zip(consoles, widths, strict=True):
            console._width = width


def test_import_prints_each_problem_line_and_exits_1_when_a_row_is_rejected(aws, files) -> None:
    result = run("import", "customers", str(files["customers"]))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "line 3: warning: ap_email: 'not-an-email' is not a valid address" in lines[0]
    assert lines[1] == "line 4: terms_days 'soon' must be a whole number of days from 0 to 365"
    assert lines[-1].startswith("customers imported from")
    assert "3 rows, 2 created, 0 updated, 0 unchanged, 1 rejected, 1 warnings" in lines[-1]


def test_a_clean_import_exits_0_and_json_reports_for_scripts(aws, files) -> None:
    run("import", "customers", str(files["customers"]))
    result = run("import", "invoices", str(files["invoices"]), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["kind"], report["created"], report["rejected"], report["problems"]) == ("invoices", 2, 0, [])


def test_a_dry_run_stores_nothing(aws, files) -> None:
    run("import", "customers", str(files["customers"]))
    dry = run("import", "invoices", str(files["invoices"]), "--dry-run")
    assert "invoices would import" in dry.output
    shown = json.loads(run("customers", "show", "C1", "--json").output)
    assert shown["invoices"] == []


def test_customers_show_has_balances_invoices_and_timeline(aws, files) -> None:
    for kind in ("customers", "invoices", "payments"):
        run("import", kind, str(files[kind]))
    result = run("customers", "show", "C1", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["customer_id"] == "C1" and shown["legal_name"] == "Acme Industrial LLC"
    assert shown["onboarding_status"] == "submitted"
    assert shown["open_balance"] == {"USD": "250.00"}
    assert shown["credit_balance"] == {"USD": "100.00"}
    assert shown["tin"] == "•••••6789"
    assert [(i["invoice_id"], i["balance"], i["status"]) for i in shown["invoices"]] == [
        ("I1", "0.00", "paid"),
        ("I2", "250.00", "open"),
    ]
    assert [a["kind"] for a in shown["timeline"]] == ["payment"]
    human = run("customers", "show", "C1")
    assert "•••••6789" in human.output and "123456789" not in human.output


def test_customers_list_shows_state_and_open_balance(aws, files) -> None:
    for kind in ("customers", "invoices"):
        run("import", kind, str(files[kind]))
    listed = json.loads(run("customers", "list", "--json").output)
    assert listed["next"] is None
    by_id = {c["customer_id"]: c for c in listed["customers"]}
    assert set(by_id) == {"C1", "C2"}
    assert by_id["C1"]["open_balance"] == {"USD": "1250.00"} and by_id["C1"]["open_invoices"] == 2
    assert by_id["C2"]["onboarding_status"] == "needs_attention"


def test_unknown_customer_and_bad_usage_have_their_exit_codes(aws, files, tmp_path: Path) -> None:
    missing = run("customers", "show", "NOPE")
    assert missing.exit_code == 1 and "customer NOPE is not known" in missing.output
    assert run("import", "vendors", str(files["customers"])).exit_code == 2
    assert run("import", "customers", str(tmp_path / "absent.csv")).exit_code == 2


def test_a_file_level_fault_exits_1_and_says_nothing_was_imported(aws, tmp_path: Path) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("customer_id,legal_name\nC1,Café\n".encode("latin-1"))
    result = run("import", "customers", str(bad))
    assert result.exit_code == 1
    assert "not UTF-8" in result.output and "nothing was imported" in result.output


def test_a_map_imports_another_erps_export(aws, tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("Kunde,Name\nK1,Müller GmbH\n")
    column_map = tmp_path / "map.yaml"
    column_map.write_text("customers:\n  columns:\n    customer_id: {from: Kunde}\n    legal_name: {from: Name}\n")
    result = run("import", "customers", str(export), "--map", str(column_map))
    assert result.exit_code == 0, result.output
    assert json.loads(run("customers", "show", "K1", "--json").output)["legal_name"] == "Müller GmbH"


def test_customers_list_pages_with_the_cursor_it_prints(aws, files) -> None:
    run("import", "customers", str(files["customers"]))
    first = json.loads(run("customers", "list", "--limit", "1", "--json").output)
    assert len(first["customers"]) == 1 and first["next"]
    human = run("customers", "list", "--limit", "1")
    assert f"more: arcollect customers list --limit 1 --after {first['next']}" in human.output
    rest = json.loads(run("customers", "list", "--after", first["next"], "--json").output)
    assert {c["customer_id"] for c in first["customers"] + rest["customers"]} == {"C1", "C2"}
    assert rest["next"] is None


def test_a_cursor_the_list_never_printed_is_bad_usage(aws) -> None:
    result = run("customers", "list", "--after", "eyJjdXN0b21lcl9pZCI6IDF9")
    assert result.exit_code == 2
    assert result.output.startswith("error: the cursor is not one `customers list` printed")
    assert "Traceback" not in result.output


def test_version_prints_the_installed_version_and_exits_0() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"arcollect {version('arcollect')}\n"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_the_ledger_formats_define_is_accepted(aws, tmp_path: Path, kind: str) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = run("import", kind, str(empty))
    assert result.exit_code == 1 and "nothing was imported" in result.output  # the file's fault, not the kind's


# --- stored text is data -------------------------------------------------------------------------------------

HOSTILE = {
    "C1": "Smith [/] Sons",
    "C2": "[link=https://evil.example]Pay here[/link]",
    "C3": "Clear\x1b[2J\x1b]0;owned\x07 Co",
    "C4": "C1 csi \x9b31m and DEL \x7f",
    "C5": "Bidi \u202egnp.exe\u202c and \u2066isolate\u2069",
    "C6": "Two\nLines\rOverwritten :smile:",
}
RAW_UNSAFE = ("\x07", "\x9b", "\x7f", "\u202e", "\u202c", "\u2066", "\u2069", "\r", "\x1b[2J", "\x1b]")


@pytest.fixture
def hostile_customers(aws, tmp_path: Path) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,currency\n" + "".join(f"{cid},USD\n" for cid in HOSTILE))
    assert run("import", "customers", str(csv)).exit_code == 0
    for cid, name in HOSTILE.items():  # as any writer could store it, whatever the importer accepts
        CustomerRecord.get(cid).update(actions=[CustomerRecord.legal_name.set(name)])


def test_customers_list_prints_hostile_names_as_plain_text(hostile_customers) -> None:
    result = run_wide("customers", "list")
    assert result.exit_code == 0, result.output
    assert "Smith [/] Sons" in result.output
    assert "[link=https://evil.example]Pay here[/link]" in result.output
    assert "Clear\\x1b[2J\\x1b]0;owned\\x07 Co" in result.output
    assert "Bidi \\u202egnp.exe\\u202c" in result.output
    assert ":smile:" in result.output
    assert not any(char in result.output for char in RAW_UNSAFE)


def test_on_a_terminal_a_stored_link_is_never_live_and_no_sequence_gets_through(
    hostile_customers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(customers_cmd, "stdout", make_console(force_terminal=True, width=400))
    result = run_wide("customers", "list")
    assert result.exit_code == 0, result.output
    assert "\x1b]8;" not in result.output  # OSC 8 is how a terminal hyperlink starts
    assert "[link=https://evil.example]Pay here[/link]" in result.output
    assert not any(char in result.output for char in RAW_UNSAFE)


def test_customers_show_prints_a_hostile_customer_as_plain_text(hostile_customers) -> None:
    for cid in HOSTILE:
        result = run_wide("customers", "show", cid)
        assert result.exit_code == 0, result.output
        assert not any(char in result.output for char in RAW_UNSAFE), cid
    assert run_wide("customers", "show", "C1").output.startswith("C1  Smith [/] Sons\n")
    assert run_wide("customers", "show", "C3").output.startswith("C3  Clear\\x1b[2J\\x1b]0;owned\\x07 Co\n")


def test_json_gives_scripts_the_stored_text_exactly_and_the_terminal_nothing_raw(hostile_customers) -> None:
    listed = run("customers", "list", "--json")
    assert {c["customer_id"]: c["legal_name"] for c in json.loads(listed.output)["customers"]} == HOSTILE
    assert not any(char in listed.output for char in RAW_UNSAFE)
    shown = run("customers", "show", "C5", "--json")
    assert json.loads(shown.output)["legal_name"] == HOSTILE["C5"]
    assert not any(char in shown.output for char in RAW_UNSAFE)


def test_an_error_quoting_user_text_prints_it_literally(aws) -> None:
    result = run("customers", "show", "Smith [/] Sons\x1b[2J")
    assert result.exit_code == 1
    assert result.output == "error: customer Smith [/] Sons\\x1b[2J is not known\n"


def test_import_problem_lines_print_the_files_text_as_data(aws, tmp_path: Path) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,ap_email,terms_days\nC1,[link=https://evil.example]x\x1b[2J,30\nC2,,[/]\n")
    result = run_wide("import", "customers", str(csv))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("line 2: warning: ap_email: '[link=https://evil.example]x\\x1b[2J")
    assert lines[1].startswith("line 3: terms_days '[/]'")
    assert not any(char in result.output for char in RAW_UNSAFE)


# --- --map faults are bad usage --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("customers:\n  columns: [unclosed\n", "column map"),
        ("customers:\n  colums:\n    customer_id: {from: Kunde}\n", "colums"),
        ("customers:\n  columns:\n    customer_id: {form: Kunde}\n", "form"),
        ("- just\n- a list\n", "column map"),
    ],
)
def test_a_bad_map_is_one_error_line_and_exit_2(aws, files, tmp_path: Path, text: str, says: str) -> None:
    bad_map = tmp_path / "map.yaml"
    bad_map.write_text(text)
    result = run("import", "customers", str(files["customers"]), "--map", str(bad_map))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: --map {bad_map}: ") and says in result.output.splitlines()[0]
    assert (
        "Traceback" not in result.output
        and "pydantic" not in result.output
        and "errors.pydantic.dev" not in result.output
    )


def test_a_missing_or_unreadable_map_is_one_error_line_and_exit_2(aws, files, tmp_path: Path) -> None:
    absent = run("import", "customers", str(files["customers"]), "--map", str(tmp_path / "absent.yaml"))
    assert (absent.exit_code, absent.output) == (
        2,
        f"error: --map {tmp_path / 'absent.yaml'}: No such file or directory\n",
    )
    folder = run("import", "customers", str(files["customers"]), "--map", str(tmp_path))
    assert folder.exit_code == 2 and folder.output == f"error: --map {tmp_path}: Is a directory\n"
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("customers:\n  columns:\n    legal_name: {value: Café}\n".encode("latin-1"))
    not_utf8 = run("import", "customers", str(files["customers"]), "--map", str(latin1))
    assert not_utf8.exit_code == 2 and "not UTF-8" in not_utf8.output


def test_a_map_naming_a_column_the_kind_does_not_have_is_bad_usage(aws, files, tmp_path: Path) -> None:
    column_map = tmp_path / "map.yaml"
    column_map.write_text("customers:\n  columns:\n    colour: {from: legal_name}\n")
    result = run("import", "customers", str(files["customers"]), "--map", str(column_map))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: --map {column_map}: ") and "colour" in result.output
