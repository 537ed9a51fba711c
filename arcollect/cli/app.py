"""The `arcollect` command: one sub-command per module, assembled here."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import typer

from arcollect.cli import dunning_cmd, local_cmd, onboarding_cmd, policy_cmd, portal_cmd
from arcollect.cli.customers_cmd import customers_app
from arcollect.cli.import_cmd import import_command

app = typer.Typer(
    name="arcollect",
    help="Credit-and-collections automation: import the ledger, onboard customers, dun, get paid.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def installed_version() -> str:
    """The version of the installed distribution, so a bug report names the code that ran."""
    try:
        return version("arcollect")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _print_version(requested: bool) -> None:
    if requested:
        typer.echo(f"arcollect {installed_version()}")
        raise typer.Exit()


@app.callback()
def main_options(
    _version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
    ),
) -> None:
    """Credit-and-collections automation: import the ledger, onboard customers, dun, get paid."""


app.command("import")(import_command)
app.add_typer(customers_app, name="customers")
local_cmd.register(app)
policy_cmd.register(app)
dunning_cmd.register(app)
portal_cmd.register(app)
onboarding_cmd.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
