"""Where the local system keeps its data between runs: `.arcollect/emulator.state`, written whole to a
temporary file and renamed over the last one, so a crash mid-save leaves the previous state intact.

The file starts with a line naming what wrote it (format, moto and Python versions); a snapshot from
another version is refused with a message naming `--fresh`, before a byte of it is unpickled. It holds
the emulator's KMS key material next to the encrypted TINs, so it is readable by its owner only, and it
is trusted as the virtualenv is: whoever can write `.arcollect/` can run code as you.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

STATE_FILE = "emulator.state"
LOCK_FILE = "local.lock"
FORMAT = 1
_MAGIC = b"arcollect-local-state "


class SavedStateError(Exception):
    """The saved state cannot be used; the message says why and what to do (it never holds data)."""


@dataclass(frozen=True)
class SavedStateInfo:
    saved_at: dt.datetime
    size_bytes: int


def _writer() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "moto": version("moto"),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


class LocalStore:
    """The saved state of the local system in one directory (normally `./.arcollect`)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / STATE_FILE
        self._lock_file: IO[bytes] | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def acquire(self) -> bool:
        """Hold the directory for this process (until `release` or exit); False when another holds it. Two
        systems saving over each other's state would lose one's data."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        lock_file = (self.directory / LOCK_FILE).open("wb")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock_file.close()
            return False
        self._lock_file = lock_file
        return True

    def release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing drops the flock
            self._lock_file = None

    def read(self) -> tuple[bytes, SavedStateInfo]:
        """The saved payload, or SavedStateError when it was written by another version or is damaged."""
        fresh_hint = "start with `arcollect local --fresh` to discard it and begin empty"
        try:
            with self.path.open("rb") as source:
                first_line = source.readline(4096)
                payload = source.read()
        except OSError as exc:
            raise SavedStateError(f"cannot read the saved state {self.path}: {exc.strerror or exc}") from None
        try:
            if not first_line.startswith(_MAGIC):
                raise ValueError("not a saved state")
            header = json.loads(first_line[len(_MAGIC) :])
            saved_at = dt.datetime.fromisoformat(header["saved_at"])
            writer = {name: header[name] for name in _writer()}
        except (ValueError, KeyError, TypeError):
            raise SavedStateError(f"the saved state {self.path} is damaged; {fresh_hint}") from None
        if writer != _writer():
            theirs = ", ".join(f"{k} {v}" for k, v in writer.items())
            ours = ", ".join(f"{k} {v}" for k, v in _writer().items())
            raise SavedStateError(
                f"the saved state {self.path} was written by another version ({theirs}; this is {ours}); {fresh_hint}"
            )
        if len(payload) != header.get("size"):
            raise SavedStateError(f"the saved state {self.path} is incomplete; {fresh_hint}")
        return payload, SavedStateInfo(saved_at=saved_at, size_bytes=len(payload))

    def write(self, payload: bytes, saved_at: dt.datetime) -> None:
        """Atomically: the new file is complete on disk before it replaces the old one."""
        self.directory.mkdir(parents=True, exist_ok=True)
        header = json.dumps({**_writer(), "saved_at": saved_at.isoformat(), "size": len(payload)})
        temporary = self.path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as sink:
                sink.write(_MAGIC + header.encode() + b"\n")
                sink.write(payload)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)

    def discard(self) -> bool:
        """Remove the saved state; True if there was one."""
        existed = self.exists()
        self.path.unlink(missing_ok=True)
        return existed


class PeriodicSaver:
    """Calls `save` every `interval` seconds on a background thread, so a crash loses at most that much.
    `save` raising TimeoutError (the emulator stayed busy) is retried after `retry` seconds."""

    def __init__(self, save: Callable[[], Any], interval: float = 60.0, retry: float = 5.0):
        self._save = save
        self._interval = interval
        self._retry = retry
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-state-saver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        wait = self._interval
        while not self._stop.wait(wait):
            try:
                self._save()
                wait = self._interval
            except TimeoutError:
                wait = self._retry
            except Exception:
                logger.exception("saving the local state failed; the previous save is kept")
                wait = self._interval

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=120)
