"""`.arcollect/local.json`: how the other commands find a running local system (and know it is alive)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pydantic import BaseModel

from shared.settings import RuntimeSettings

STATE_DIR = ".arcollect"
STATE_FILE = "local.json"


class LocalState(BaseModel):
    api_url: str
    endpoint_url: str
    region: str
    table_prefix: str
    stage: str
    tin_key_id: str
    tin_mac_key_id: str
    ingest_bucket: str
    pid: int
    started_at: dt.datetime
    today: dt.date | None = None  # the date the system treats as today (`--today`); None: the clock's

    def settings(self) -> RuntimeSettings:
        """What the other commands use to reach this system's emulator: the settings its handlers have."""
        import dataclasses

        from arcollect.local.deployment import LocalDeployment

        deployment = LocalDeployment(stage=self.stage, region=self.region)
        settings = deployment.settings(
            self.endpoint_url, today=self.today.isoformat() if self.today else None, portal_url=self.api_url
        )
        return dataclasses.replace(
            settings,
            table_prefix=self.table_prefix,
            tin_key_id=self.tin_key_id,
            tin_mac_key_id=self.tin_mac_key_id,
            ingest_bucket=self.ingest_bucket,
        )

    @property
    def outbox_url(self) -> str:
        return f"{self.api_url}/_local/outbox"


def state_path(directory: Path | None = None) -> Path:
    return (directory or Path.cwd()) / STATE_DIR / STATE_FILE


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence and permission check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def write_local_state(state: LocalState, directory: Path | None = None) -> Path:
    path = state_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole then renamed, so a reader never sees half a file.
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(state.model_dump_json(indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def load_local_state(directory: Path | None = None) -> LocalState | None:
    """The running local system's state, or None when there is none (no file, unreadable, or its process
    is gone: a killed system leaves its file behind)."""
    path = state_path(directory)
    try:
        state = LocalState.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if _pid_alive(state.pid) else None


def remove_local_state(directory: Path | None = None, pid: int | None = None) -> None:
    """Remove the file; with `pid`, only if it still belongs to that process (another system may have
    started since in the same directory)."""
    path = state_path(directory)
    if pid is not None:
        try:
            if LocalState.model_validate_json(path.read_text(encoding="utf-8")).pid != pid:
                return
        except (OSError, ValueError):
            pass
    path.unlink(missing_ok=True)
