"""`arcollect policy lint|apply|show`: check a dunning policy file, store it as the new active version, and
print what is active.

A file that does not parse is a bad policy (exit 1, every problem with its line), not bad usage; a file
that cannot be read at all is bad usage (exit 2). Nothing is stored unless the file parses, its templates
compile and, without `--force`, the linter finds no error. Everything the file or the store holds is
printed through `plain()`: a policy name is data, never markup."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from arcollect.cli.connection import connect
from arcollect.cli.output import EXIT_FAILED, EXIT_USAGE, emit_json, fail, plain, reported_errors, stdout
from shared.dunning.lint import RULES, Finding, has_errors, lint_policy_file
from shared.dunning.model import WEEKDAYS, Policy, PolicyFile, Segment
from shared.dunning.policy import (
    MAX_DAYS,
    MAX_POLICY_FILE_BYTES,
    MAX_TEMPLATE_BYTES,
    TEMPLATE_KINDS,
    PolicyFileError,
    parse_policy_file,
    policy_file_to_document,
)
from shared.dunning.policy_store import PolicyStore, StoredPolicyFile

TEMPLATE_SUFFIXES = tuple(f".{kind}.j2" for kind in TEMPLATE_KINDS)

policy_app = typer.Typer(
    help="Dunning policies: check a policy file, apply it as the new active version, show the active one.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `policy` commands to `app`."""
    app.add_typer(policy_app, name="policy")


@policy_app.command("lint")
def lint_command(
    file: Path = typer.Argument(..., help="The policy file (YAML)."),
    terms_days: int = typer.Option(30, "--terms-days", min=0, max=MAX_DAYS, help="Payment terms to check with."),
    templates: Path | None = typer.Option(None, "--templates", help="The folder of the AR team's own templates."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Say, rule by rule, what a policy file breaks. Exits 1 when the file does not parse or breaks a rule
    (an error); warnings alone exit 0."""
    policy_file = _load(file, templates, as_json=as_json)
    findings = lint_policy_file(policy_file, terms_days=terms_days, known_templates=builtin_templates())
    if as_json:
        emit_json(_lint_report(file, findings))
    else:
        _print_findings(findings)
        stdout.print(plain(f"{_counts(findings)} in {file} (with {terms_days}-day terms)"))
    if has_errors(findings):
        raise typer.Exit(EXIT_FAILED)


@policy_app.command("apply")
def apply_command(
    file: Path = typer.Argument(..., help="The policy file (YAML)."),
    templates: Path | None = typer.Option(
        None,
        "--templates",
        help="A folder of templates (NAME.html.j2, NAME.txt.j2, NAME.sms.j2, ...) to apply with it.",
    ),
    force: bool = typer.Option(False, "--force", help="Apply even when the linter finds errors."),
    terms_days: int = typer.Option(30, "--terms-days", min=0, max=MAX_DAYS, help="Payment terms to lint with."),
    stage: str | None = typer.Option(None, "--stage", help="Deployed stage (default: the running local system)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check the policy file and store it as the new active version (the next dunning run follows it)."""
    text = _read_policy_text(file, as_json=as_json)
    policy_file = _parse(file, text, _read_templates(templates, as_json=as_json) if templates else {}, as_json)
    findings = lint_policy_file(policy_file, terms_days=terms_days, known_templates=builtin_templates())
    if has_errors(findings) and not force:
        errors = [f for f in findings if f.severity == "error"]
        fail(
            f"{file} breaks {len(errors)} rule{'s' if len(errors) != 1 else ''}; nothing was applied "
            "(`arcollect policy lint` explains each; --force applies it anyway)",
            as_json=as_json,
            details=[_finding_line(f, with_rule=True) for f in errors],
        )
    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        version = PolicyStore().apply(policy_file, text, _who(), datetime.now(UTC))
    if as_json:
        emit_json(
            {
                "version": version,
                "policies": len(policy_file.policies),
                "segments": len(policy_file.segments),
                "warnings": [f.as_dict() for f in findings if f.severity == "warning"],
                "forced_errors": [f.as_dict() for f in findings if f.severity == "error"],
            }
        )
        return
    stdout.print(
        plain(
            f"applied version {version}: {len(policy_file.policies)} policies, {len(policy_file.segments)} segments"
            + (f" ({_counts(findings)})" if findings else "")
        )
    )
    _print_findings(findings)


@policy_app.command("show")
def show_command(
    stage: str | None = typer.Option(None, "--stage", help="Deployed stage (default: the running local system)."),
    as_json: bool = typer.Option(False, "--json", help="Print the active version as JSON."),
) -> None:
    """The active policy version: its policies with their steps, and the segments that choose them."""
    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        stored = PolicyStore().latest()
    if stored is None:
        fail("no policy file has been applied yet (arcollect policy apply FILE)", as_json=as_json)
    if as_json:
        emit_json(_show_document(stored))
    else:
        _print_stored(stored)


# --- reading the files ---------------------------------------------------------------------------------


def _load(file: Path, templates: Path | None, *, as_json: bool) -> PolicyFile:
    text = _read_policy_text(file, as_json=as_json)
    return _parse(file, text, _read_templates(templates, as_json=as_json) if templates else {}, as_json)


def _read_policy_text(file: Path, *, as_json: bool) -> str:
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_POLICY_FILE_BYTES + 1)
    except OSError as exc:  # absent, a directory, unreadable: the OS says which
        fail(f"{file}: {exc.strerror or 'cannot be read'}", as_json=as_json, code=EXIT_USAGE)
    if len(data) > MAX_POLICY_FILE_BYTES:
        fail(f"{file}: a policy file is at most {MAX_POLICY_FILE_BYTES} bytes; nothing was applied", as_json=as_json)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{file}: not UTF-8 text (byte {exc.start + 1}); nothing was applied", as_json=as_json)


def _parse(file: Path, text: str, templates: dict[str, str], as_json: bool) -> PolicyFile:
    try:
        return parse_policy_file(text, templates=templates)
    except PolicyFileError as exc:
        fail(f"{file}: {exc.message}", as_json=as_json, details=exc.details)


def _read_templates(folder: Path, *, as_json: bool) -> dict[str, str]:
    """`NAME.html.j2` → templates["NAME.html"] (and .txt, .subject, .sms, .letter). Anything else in the folder
    is refused (a misnamed template would silently not be used); hidden files such as .DS_Store are passed
    over."""
    if not folder.is_dir():
        fail(f"--templates {folder}: not a folder", as_json=as_json, code=EXIT_USAGE)
    templates: dict[str, str] = {}
    problems: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        problem = _template_file_problem(path)
        if problem is None:
            try:
                templates[path.name.removesuffix(".j2")] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                problem = "not UTF-8 text"
        if problem is not None:
            problems.append(f"{path.name}: {problem}")
    if problems:
        fail(
            f"--templates {folder}: {len(problems)} file(s) refused; nothing was applied",
            as_json=as_json,
            details=problems,
        )
    return templates


def _template_file_problem(path: Path) -> str | None:
    if not path.is_file() or not path.name.endswith(TEMPLATE_SUFFIXES):
        return f"not a template (templates are named {', '.join('NAME' + suffix for suffix in TEMPLATE_SUFFIXES)})"
    if path.stat().st_size > MAX_TEMPLATE_BYTES:
        return f"{path.stat().st_size} bytes long; a template is at most {MAX_TEMPLATE_BYTES}"
    return None


def builtin_templates() -> dict[str, frozenset[str]]:
    """The templates arcollect ships: name → forms ({"html", "txt", "subject"} for an email stage)."""
    from shared.dunning.render import known_templates

    return known_templates()


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in this environment (a container without a passwd entry)
        return "staff"


# --- printing --------------------------------------------------------------------------------------------


def _lint_report(file: Path, findings: list[Finding]) -> dict[str, Any]:
    return {
        "file": str(file),
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
        "findings": [f.as_dict() for f in findings],
    }


def _counts(findings: list[Finding]) -> str:
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    return f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"


def _finding_line(finding: Finding, *, with_rule: bool = False) -> str:
    where = " · ".join(part for part in (finding.policy, finding.step) if part) or "segments"
    rule = f"{finding.rule}: " if with_rule else ""
    return f"{rule}{where}: {finding.message}"


def _print_findings(findings: list[Finding]) -> None:
    """Rule by rule, in the order docs/policies.md lists them."""
    for rule in RULES:
        mine = [f for f in findings if f.rule == rule.id]
        if not mine:
            continue
        style = "red" if rule.severity == "error" else "yellow"
        stdout.print(Text.assemble((f"{rule.id} ({rule.severity})", style), " ", plain(rule.summary)))
        for finding in mine:
            stdout.print(Text.assemble("  ", plain(_finding_line(finding))))


def _show_document(stored: StoredPolicyFile) -> dict[str, Any]:
    document = policy_file_to_document(stored.policy_file)
    return {
        "version": stored.version,
        "applied_at": stored.applied_at.isoformat(),
        "applied_by": stored.applied_by,
        "policies": document["policies"],
        "segments": document["segments"],
        "overrides": document["overrides"],
        "templates": sorted(document["templates"]),
    }


def _print_stored(stored: StoredPolicyFile) -> None:
    pf = stored.policy_file
    stdout.print(
        Text.assemble(
            (f"version {stored.version}", "bold"),
            plain(f"  applied {stored.applied_at:%Y-%m-%d %H:%M} UTC by {stored.applied_by}"),
        )
    )
    for policy in pf.policies.values():
        _print_policy(policy)
    stdout.print()
    table = Table("segment", "policy", "match", "assigned by hand", "verified data first")
    for segment in pf.segments:
        table.add_row(
            plain(segment.name),
            plain(segment.policy),
            plain(_match_text(segment)),
            plain(len(segment.customers) or ""),
            plain("yes" if segment.require_verified_master_data else ""),
        )
    stdout.print(table)
    if pf.customer_overrides or pf.invoice_overrides:
        stdout.print(plain(f"overrides: {len(pf.customer_overrides)} customers, {len(pf.invoice_overrides)} invoices"))
    if pf.templates:
        stdout.print(plain(f"templates: {', '.join(sorted(pf.templates))}"))


def _print_policy(policy: Policy) -> None:
    window = policy.send_window
    days = ",".join(WEEKDAYS[d] for d in sorted(window.weekdays))
    stdout.print(Text.assemble("\n", plain(policy.name, "bold")))
    stdout.print(
        plain(
            f"first touch at {policy.first_touch_min_age_days} days · {policy.min_touches} touches before a final "
            f"step · {policy.min_gap_days} days between touches · tolerance {policy.tolerance} · "
            f"{window.start:%H:%M}-{window.end:%H:%M} {days}"
            + (f" · holidays {window.holidays}" if window.holidays else "")
        )
    )
    if not policy.steps:
        stdout.print(plain("no steps: no reminders"))
        return
    table = Table("step", "anchor", "offset", "channel", "template", "final", "min balance")
    for step in policy.steps:
        table.add_row(
            plain(step.id),
            plain(step.anchor),
            plain(f"{step.offset_days:+d}"),
            plain(step.channel),
            plain(step.template or ""),
            plain("final" if step.final else ""),
            plain("" if step.min_balance is None else step.min_balance),
        )
    stdout.print(table)


def _match_text(segment: Segment) -> str:
    match = segment.match
    parts = [
        f"open balance >= {match.min_open_balance}" if match.min_open_balance is not None else "",
        f"open balance <= {match.max_open_balance}" if match.max_open_balance is not None else "",
        f"terms >= {match.min_terms_days}" if match.min_terms_days is not None else "",
        f"terms <= {match.max_terms_days}" if match.max_terms_days is not None else "",
        f"country {', '.join(sorted(match.countries))}" if match.countries is not None else "",
        f"currency {', '.join(sorted(match.currencies))}" if match.currencies is not None else "",
        f"origin {', '.join(sorted(match.origins))}" if match.origins is not None else "",
    ]
    return "; ".join(part for part in parts if part) or "everyone"
