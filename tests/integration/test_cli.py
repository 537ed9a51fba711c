"""The command line against the in-process AWS: what a user types and reads, and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arcollect.cli.app import app

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
    by_id = {c["customer_id"]: c for c in listed}
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
