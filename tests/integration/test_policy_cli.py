"""`arcollect policy lint|apply|show` against the local system's emulator: what an AR manager types, reads
and gets stored, the exit codes, and versions that never overwrite each other."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from arcollect.cli import policy_cmd
from arcollect.local.emulator import Emulator
from arcollect.local.state import LocalState, write_local_state
from shared.data.binding import bind_tables
from shared.data.tables import PolicySetRecord
from shared.dunning.policy import parse_policy_file
from shared.dunning.policy_store import PolicyStore

STANDARD_FILE = Path(__file__).parents[2] / "shared" / "dunning" / "standard_policy.yaml"
# INTERFACES.md's example, as a new user copies it.
INTERFACES_EXAMPLE = (Path(__file__).resolve().parents[1] / "fixtures" / "interfaces-example-policy.yaml").read_text()
BREAKS_RULES = """\
policies:
  - name: pushy
    steps:
      - {id: call_first, anchor: invoice_date, offset_days: 20, channel: call}
      - {id: email,      anchor: due_date,     offset_days: 0,  channel: email, template: due_today}
segments:
  - {name: all, policy: pushy}
"""

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory without a local system: `policy lint` needs none."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def system(emulator: Emulator, workdir: Path) -> Path:
    """A running local system as the CLI finds it: `.arcollect/local.json` in the working directory."""
    deployment = emulator.deployment
    state = LocalState(
        api_url="http://127.0.0.1:1",
        endpoint_url=emulator.endpoint_url,
        region=deployment.region,
        table_prefix=deployment.table_prefix,
        stage=deployment.stage,
        tin_key_id=deployment.tin_key_alias,
        tin_mac_key_id=deployment.tin_mac_key_alias,
        ingest_bucket=deployment.ingest_bucket,
        pid=os.getpid(),
        started_at=datetime(2026, 11, 22, 9, tzinfo=UTC),
    )
    write_local_state(state, workdir)
    bind_tables(deployment.table_prefix, deployment.region, emulator.endpoint_url)  # for the store read directly
    return workdir


def cli() -> typer.Typer:
    app = typer.Typer()
    policy_cmd.register(app)
    return app


def run(*args: str) -> Any:
    return runner.invoke(cli(), ["policy", *args])


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_new_user_applies_the_interfaces_example_as_printed(system: Path) -> None:
    path = write(system, "policies.yaml", INTERFACES_EXAMPLE)

    result = run("apply", str(path))

    assert result.exit_code == 0, result.output
    assert result.output.startswith("applied version 1: 2 policies, 2 segments")
    assert "no_steps (warning)" in result.output  # `gentle` is printed without steps: legal, and said
    shown = json.loads(run("show", "--json").output)
    assert shown["version"] == 1
    assert [p["name"] for p in shown["policies"]] == ["standard", "gentle"]
    assert [s["id"] for s in shown["policies"][0]["steps"]][:2] == ["pre_due", "due"]
    assert [(s["name"], s["policy"]) for s in shown["segments"]] == [("strategic", "gentle"), ("default", "standard")]


def test_each_apply_is_a_new_version_and_the_newest_is_active(system: Path) -> None:
    run("apply", str(write(system, "a.yaml", INTERFACES_EXAMPLE)))
    result = run("apply", str(STANDARD_FILE), "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["version"] == 2
    active = PolicyStore().active()
    assert active is not None and active[0] == 2 and len(active[1].policies["gentle"].steps) == 7
    assert [v[0] for v in PolicyStore().versions(10)] == [2, 1]
    stored = PolicySetRecord.get("active", 1, consistent_read=True)
    assert stored.source_text == INTERFACES_EXAMPLE  # the audit trail keeps what was applied, comments and all


def test_show_prints_the_active_policies_and_segments_for_people(system: Path) -> None:
    run("apply", str(STANDARD_FILE))
    result = run("show")
    assert result.exit_code == 0, result.output
    assert "version 1" in result.output and "gentle" in result.output and "strategic" in result.output
    assert "open balance >=" in result.output and "100000" in result.output


def test_show_before_any_apply_says_so_and_exits_1(system: Path) -> None:
    result = run("show")
    assert result.exit_code == 1 and "no policy file has been applied yet" in result.output


def test_a_bad_file_is_line_numbered_exits_1_and_applies_nothing(system: Path) -> None:
    path = write(system, "bad.yaml", INTERFACES_EXAMPLE.replace("channel: sms,  ", "channel: fax,  "))

    result = run("apply", str(path))

    assert result.exit_code == 1
    assert "line 12: policy 'standard', step 'late_sms': channel 'fax' is not one of" in result.output
    assert PolicyStore().active() is None


def test_a_file_that_breaks_a_rule_is_refused_unless_forced(system: Path) -> None:
    path = write(system, "pushy.yaml", BREAKS_RULES)

    refused = run("apply", str(path))
    assert refused.exit_code == 1
    assert "breaks 1 rule; nothing was applied" in refused.output
    assert "personal_before_automated: pushy · call_first:" in refused.output
    assert PolicyStore().active() is None

    forced = run("apply", str(path), "--force", "--json")
    assert forced.exit_code == 0, forced.output
    report = json.loads(forced.output)
    assert report["version"] == 1 and [f["rule"] for f in report["forced_errors"]] == ["personal_before_automated"]


def test_lint_prints_findings_rule_by_rule_and_exits_1_on_an_error(workdir: Path) -> None:
    write(workdir, "pushy.yaml", BREAKS_RULES)
    result = run("lint", "pushy.yaml")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("personal_before_automated (error)")
    assert lines[1].startswith("  pushy · call_first: a call on day 20 comes before any automated touch")
    assert lines[-1] == "1 error, 1 warning in pushy.yaml (with 30-day terms)"


def test_lint_json_counts_errors_and_warnings_and_warnings_alone_exit_0(workdir: Path) -> None:
    write(workdir, "p.yaml", INTERFACES_EXAMPLE)
    result = run("lint", "p.yaml", "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert (report["file"], report["errors"], report["warnings"]) == ("p.yaml", 0, 2)
    assert {f["rule"] for f in report["findings"]} == {"short_terms", "no_steps"}

    short = json.loads(run("lint", "p.yaml", "--terms-days", "10", "--json").output)
    assert short["errors"] == 4


def test_lint_of_a_file_that_does_not_parse_exits_1_with_every_problem(workdir: Path) -> None:
    write(workdir, "x.yaml", "policies:\n  - name: p\n    min_gap_days: -1\n    zap: 1\n")
    result = run("lint", "x.yaml")
    assert result.exit_code == 1
    assert "line 3: policy 'p': `min_gap_days` must be between 0 and 365, not -1" in result.output
    assert "line 4: policy 'p': unknown key 'zap'" in result.output
    as_json = json.loads(run("lint", "x.yaml", "--json").output)
    assert len(as_json["error"]["details"]) == 2


def test_a_missing_file_is_bad_usage_and_a_non_utf8_file_a_bad_policy(workdir: Path) -> None:
    assert run("lint", "absent.yaml").exit_code == 2
    assert run("apply", "absent.yaml").exit_code == 2
    (workdir / "latin1.yaml").write_bytes("policies:\n  - name: caf\xe9\n".encode("latin-1"))
    result = run("lint", "latin1.yaml")
    assert result.exit_code == 1 and "not UTF-8" in result.output


def test_a_templates_folder_is_applied_with_the_policy(system: Path) -> None:
    folder = system / "templates"
    folder.mkdir()
    write(folder, "past_due.html.j2", "<p>Dear {{ customer_name }},</p>\n")
    write(folder, "past_due.txt.j2", "Dear {{ customer_name }},\n")
    write(folder, "my_sms.sms.j2", "Please pay {{ total }}")
    write(folder, ".DS_Store", "finder litter")
    policy = INTERFACES_EXAMPLE.replace("template: past_due_sms", "template: my_sms")

    result = run("apply", str(write(system, "p.yaml", policy)), "--templates", str(folder))

    assert result.exit_code == 0, result.output
    assert json.loads(run("show", "--json").output)["templates"] == ["my_sms.sms", "past_due.html", "past_due.txt"]
    active = PolicyStore().active()
    assert active is not None and active[1].templates["past_due.html"] == "<p>Dear {{ customer_name }},</p>\n"


def test_a_template_that_does_not_compile_is_refused_with_its_line(system: Path) -> None:
    folder = system / "templates"
    folder.mkdir()
    write(folder, "past_due.html.j2", "<p>Dear {{ customer_name }},</p>\n{% if overdue %}\n")

    result = run("apply", str(write(system, "p.yaml", INTERFACES_EXAMPLE)), "--templates", str(folder))

    assert result.exit_code == 1
    assert "template past_due.html, line 2:" in result.output
    assert PolicyStore().active() is None


def test_a_stray_file_in_the_templates_folder_is_refused(system: Path) -> None:
    folder = system / "templates"
    folder.mkdir()
    write(folder, "past_due.html", "<p>no .j2</p>")
    write(folder, "big.txt.j2", "x" * (64 * 1024 + 1))

    result = run("apply", str(write(system, "p.yaml", INTERFACES_EXAMPLE)), "--templates", str(folder))

    assert result.exit_code == 1
    assert "big.txt.j2: 65537 bytes long; a template is at most 65536" in result.output
    assert "past_due.html: not a template" in result.output
    assert PolicyStore().active() is None


def test_two_applies_racing_for_one_version_number_both_land(system: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both read "no version yet"; the second's conditional write fails and it takes the next number.
    pf = parse_policy_file(INTERFACES_EXAMPLE)
    now = datetime(2026, 11, 22, 10, tzinfo=UTC)
    first, second = PolicyStore(), PolicyStore()
    real = PolicyStore._latest_version
    stale_reads = [1]

    def latest_version(store: PolicyStore) -> int:
        if stale_reads[0]:
            stale_reads[0] -= 1
            return 0
        return real(store)

    monkeypatch.setattr(PolicyStore, "_latest_version", latest_version)
    assert first.apply(pf, "first", "alice", now) == 1
    stale_reads[0] = 1
    assert second.apply(pf, "second", "bob", now) == 2
    assert [(v, who) for v, _, who in PolicyStore().versions(5)] == [(2, "bob"), (1, "alice")]


def test_stored_text_is_printed_as_data_never_as_terminal_sequences(workdir: Path) -> None:
    hostile = INTERFACES_EXAMPLE + 'overrides:\n  customers:\n    "\\e[31mC1\\u202e": {pause: true}\n'
    result = run("lint", str(write(workdir, "h.yaml", hostile)))
    assert result.exit_code == 1 and "\x1b" not in result.output and "\u202e" not in result.output
    assert "overrides, customer '\\x1b[31mC1\\u202e': unknown key 'pause'" in result.output
