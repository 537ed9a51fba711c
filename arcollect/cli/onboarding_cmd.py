"""`arcollect onboarding invite ID` and `arcollect check tin|email`.

The invitation is sent by the deployment's own onboarding sweep function (invoked with the customer's id), so the
email, its signed link and the reminders it plans are exactly those the hourly sweep would send — locally and in
AWS alike (staff need `lambda:InvokeFunction` on it there).

`check` runs the onboarding validators on one value, on this machine, for a clerk reading a W-9: the verdict, the
normalised form (a TIN masked: last four) and the reasons. Exit 0 valid, 1 invalid (and 1 for "retry later": a
DNS timeout is not a verdict)."""

from __future__ import annotations

from enum import StrEnum

import typer

from arcollect.cli.connection import Target, connect
from arcollect.cli.output import EXIT_FAILED, emit_json, plain, reported_errors, stdout
from shared.onboarding.tin_rules import TIN_TYPES
from shared.settings import stage_names

TinKind = StrEnum("TinKind", {name: name for name in TIN_TYPES})  # type: ignore[misc]

onboarding_app = typer.Typer(help="Onboarding: invitations to confirm master data.", no_args_is_help=True)
check_app = typer.Typer(help="Run the onboarding validators on one value (TIN, AP email).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(onboarding_app, name="onboarding")
    app.add_typer(check_app, name="check")


def _sweep_function(target: Target) -> str:
    if target.local is not None:
        return f"{stage_names(target.settings.stage).table_prefix}onboarding_sweep"
    return stage_names(target.settings.stage).function("onboarding_sweep")


@onboarding_app.command("invite")
def invite_command(
    customer_id: str = typer.Argument(..., help="The customer's id, as `arcollect customers list` shows it."),
    stage: str | None = typer.Option(None, "--stage", help="Deployed stage (default: the running local system)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Send (or re-send) the onboarding invitation: an email with a link to the portal where the customer
    confirms its master data. Reminders follow weekly, three at most, until the customer submits."""
    import dataclasses

    from shared.onboarding.service import OnboardingServices

    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        settings = dataclasses.replace(target.settings, onboarding_sweep_function=_sweep_function(target))
        invited = OnboardingServices(settings).invite_through_sweep(customer_id)
    if as_json:
        emit_json(invited)
        return
    after = f"; next reminder {invited['next_reminder_at']}" if invited.get("next_reminder_at") else ""
    stdout.print(plain(f"invitation sent to {invited.get('address')} for {customer_id}{after}"))


@onboarding_app.command("tin-document")
def tin_document_command(
    customer_id: str = typer.Argument(..., help="The customer's id."),
    by: str = typer.Option(..., "--by", help="Who checked the TIN against the W-9 or certificate."),
    stage: str | None = typer.Option(None, "--stage", help="Deployed stage (default: the running local system)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Record that staff checked the customer's TIN against its document (W-9, VAT certificate): its check
    level becomes document_verified (a registry match, where there is one, stays: it says more)."""
    from shared.clock import clock_for
    from shared.onboarding.workflow import record_tin_document

    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        level = record_tin_document(customer_id, clock_for(target.settings.today)(), by)
    if as_json:
        emit_json({"customer_id": customer_id, "tin_check": level})
    else:
        stdout.print(plain(f"{customer_id}: TIN {level.replace('_', ' ')}"))


@check_app.command("tin")
def check_tin_command(
    value: str = typer.Argument(..., help="The TIN as written (separators and full-width digits are fine)."),
    tin_type: TinKind = typer.Option(..., "--type", case_sensitive=False, help="The type the customer declared."),
    legal_name: str | None = typer.Option(None, "--legal-name", help="The W-9's name: an SSN of a company is refused."),
    classification: str | None = typer.Option(
        None, "--classification", help="The W-9's federal tax classification (individual, c_corporation, llc, ...)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check one TIN: verdict, normalised form (masked) and reasons. Exit 0 valid, 1 invalid."""
    from shared.onboarding.tin_rules import check_tin

    verdict = check_tin(tin_type.value, value, classification=classification, legal_name=legal_name)
    if as_json:
        emit_json(verdict.as_json())
    else:
        label = tin_type.value.upper().replace("_", " ")
        stdout.print(plain(f"{'VALID' if verdict.valid else 'INVALID'} {label} {verdict.masked}"))
        if verdict.valid:
            stdout.print(plain(f"  checked: {verdict.level.replace('_', ' ')} (no registry was asked)"))
        for reason in verdict.reasons:
            stdout.print(plain(f"  - {reason}"))
        for warning in verdict.warnings:
            stdout.print(plain(f"  ! {warning}"))
    if not verdict.valid:
        raise typer.Exit(EXIT_FAILED)


@check_app.command("email")
def check_email_command(
    address: str = typer.Argument(..., help="The AP email address."),
    no_dns: bool = typer.Option(False, "--no-dns", help="Skip the MX lookup (syntax and lists only)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check one AP email address: verdict, normalised form, reasons and warnings. Exit 0 valid, 1 otherwise."""
    from shared.onboarding.dns_check import DnsPythonResolver
    from shared.onboarding.email_rules import check_ap_email

    verdict = check_ap_email(address, resolver=None if no_dns else DnsPythonResolver())
    if as_json:
        emit_json(verdict.as_json())
    else:
        stdout.print(plain(f"{verdict.verdict.upper().replace('_', ' ')} {verdict.normalised or address.strip()}"))
        for reason in verdict.reasons:
            stdout.print(plain(f"  - {reason}"))
        for warning in verdict.warnings:
            stdout.print(plain(f"  ! {warning}"))
    if verdict.verdict != "valid":
        raise typer.Exit(EXIT_FAILED)
