"""Which deployment a command talks to: the running local system (`.arcollect/local.json`), else the
deployed stage named by `--stage` with the ambient AWS credentials."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

import typer

from arcollect.local.deployment import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY
from arcollect.local.state import LocalState, load_local_state
from shared.data.binding import bind_tables
from shared.settings import RuntimeSettings, stage_names

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Target:
    settings: RuntimeSettings
    today: date
    local: LocalState | None

    @property
    def description(self) -> str:
        if self.local is not None:
            return f"local system at {self.local.api_url}"
        return f"stage {self.settings.stage} in {self.settings.region}"


def connect(stage: str | None) -> Target:
    """Bind the table models to the chosen deployment and return it."""
    local = None if stage else load_local_state()
    if local is not None:
        settings = local.settings()
        # The emulator accepts any credentials, but botocore refuses to sign without some.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", EMULATOR_ACCESS_KEY)
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", EMULATOR_SECRET_KEY)
        today = local.today or date.today()
    else:
        chosen = stage or os.environ.get("ARCOLLECT_STAGE", "dev")
        try:
            names = stage_names(chosen)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--stage") from None
        import boto3  # only for a deployed stage: the local path and `--help` stay quick

        # The region the ambient AWS configuration names (AWS_REGION, the profile), as every AWS tool does.
        region = boto3.session.Session().region_name or DEFAULT_REGION
        settings = names.settings(region=region)
        today = date.today()
    bind_tables(settings.table_prefix, settings.region, settings.endpoint_url)
    return Target(settings=settings, today=today, local=local)
