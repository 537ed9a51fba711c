"""`arcollect portal-link ID [--json]`: a sign-in link to the customer portal for one customer, for support (the
customer on the phone who cannot find the email). It is the link a reminder carries: signed with the stage's
link key (its Secrets Manager secret, named by the stage), valid 14 days, opening the page the customer's
emails open — the running local system's own page, or the deployed stage's portal.

Anyone holding the link can act for the customer until it expires (or staff revoke access), so it is printed
for the person who asked and nowhere else: never logged."""

from __future__ import annotations

from typing import Any

import typer

from arcollect.cli.connection import Target, connect
from arcollect.cli.output import emit_json, fail, reported_errors
from shared.clock import clock_for
from shared.portal.access import issue_portal_link
from shared.security.links import LinkSigner, load_signing_keys, secrets_manager_fetch
from shared.settings import stage_names

# The stack output CDK writes the portal's address to (infra/stacks/arcollect_stack.py).
PORTAL_URL_OUTPUT = "PortalUrl"


def register(app: typer.Typer) -> None:
    """Add `portal-link` to `app`."""
    app.command("portal-link")(portal_link_command)


def portal_link_command(
    customer_id: str = typer.Argument(..., help="The customer's id, as `arcollect customers list` shows it."),
    stage: str | None = typer.Option(None, "--stage", help="Deployed stage (default: the running local system)."),
    as_json: bool = typer.Option(False, "--json", help='Print {"url", "link_token", "expires_at"}.'),
) -> None:
    """Print a sign-in link to the customer portal for one customer (support use). It works for 14 days,
    until staff revoke the customer's access."""
    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        base_url = _portal_url(target)
        if base_url is None:
            fail(
                f"the portal's address of stage {target.settings.stage} is not known: its stack has no "
                f"{PORTAL_URL_OUTPUT} output (deploy the stage, or run `arcollect local` here)",
                as_json=as_json,
            )
        now = clock_for(target.settings.today)()
        link = issue_portal_link(customer_id, now, _signer(target), base_url)
    if as_json:
        emit_json({"url": link.url, "link_token": link.link_token, "expires_at": link.expires_at.isoformat()})
    else:
        # Echoed whole, never through Rich: a console would wrap a long URL across lines.
        typer.echo(link.url)


def _client(target: Target, service: str) -> Any:
    import boto3

    settings = target.settings
    return boto3.client(service, region_name=settings.region, endpoint_url=settings.endpoint_url)


def _signer(target: Target) -> LinkSigner:
    secret_id = stage_names(target.settings.stage).link_secret_name
    return LinkSigner(load_signing_keys(secret_id, secrets_manager_fetch(_client(target, "secretsmanager"))))


def _portal_url(target: Target) -> str | None:
    """Locally the system's own page; deployed, the settings' portal URL, else the stack's output."""
    if target.local is not None:
        return target.local.api_url
    if target.settings.portal_url:
        return target.settings.portal_url
    return _stack_output(target, PORTAL_URL_OUTPUT)


def _stack_output(target: Target, key: str) -> str | None:
    cloudformation = _client(target, "cloudformation")
    try:
        stacks = cloudformation.describe_stacks(StackName=stage_names(target.settings.stage).prefix)["Stacks"]
    except cloudformation.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    for output in (stacks[0].get("Outputs") or []) if stacks else []:
        if output.get("OutputKey") == key and output.get("OutputValue"):
            return str(output["OutputValue"])
    return None
