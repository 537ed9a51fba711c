"""The `arcollect` command: one sub-command per module, assembled here."""

from __future__ import annotations

import typer

from arcollect.cli import local_cmd
from arcollect.cli.customers_cmd import customers_app
from arcollect.cli.import_cmd import import_command

app = typer.Typer(
    name="arcollect",
    help="Credit-and-collections automation: import the ledger, onboard customers, dun, get paid.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("import")(import_command)
app.add_typer(customers_app, name="customers")
local_cmd.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
