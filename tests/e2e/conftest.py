"""Driving the real `arcollect` command line in a subprocess: free ports, bounded polling, and a started
`arcollect local` that is always stopped, whatever the test did."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    process: subprocess.Popen[str] | None = None,
) -> T:
    """Poll `check` until it returns something other than None; fail after `timeout` seconds, or at once if
    `process` has exited."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f} s")
        time.sleep(interval)


def get(url: str, timeout: float = 10) -> tuple[int, bytes] | None:
    """Status and body, or None while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def arcollect_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "arcollect.cli.app", *args]


@dataclass
class LocalProcess:
    process: subprocess.Popen[str]
    directory: Path
    port: int
    log: Path
    health_answers: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_file(self) -> Path:
        return self.directory / ".arcollect" / "local.json"

    def state(self) -> dict[str, Any] | None:
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return state

    def get(self, path: str) -> tuple[int, bytes]:
        answer = get(f"{self.url}{path}")
        assert answer is not None, f"nothing answers at {self.url}{path}"
        return answer

    def wait_answering(self, timeout: float) -> tuple[int, bytes]:
        """The first answer from /health, whatever it says (503 while starting)."""
        return wait_for(
            lambda: get(f"{self.url}/health", timeout=2),
            timeout=timeout,
            what="answer from /health",
            process=self.process,
        )

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Poll /health until it answers 200, which it does only once everything (the demo ledger included)
        is in place and local.json is written; returns local.json. Every earlier answer is kept in
        `health_answers`."""

        def ready() -> tuple[int, bytes] | None:
            answer = get(f"{self.url}/health", timeout=2)
            if answer is not None:
                self.health_answers.append(answer)
            return answer if answer is not None and answer[0] == 200 else None

        wait_for(ready, timeout=timeout, what="200 from /health", process=self.process)
        state = self.state()
        assert state is not None, "/health said ready before local.json was written"
        return state

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60) -> int:
        """Stop it as a user would; its exit code."""
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Another `arcollect` command, in the same directory (so it finds local.json)."""
        return run_arcollect(self.directory, *args, timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def run_arcollect(directory: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        arcollect_command(*args),
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_clean_environment(),
    )


def _clean_environment() -> dict[str, str]:
    """The user's environment minus anything that would point the system at a real AWS account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARCOLLECT_", "MOTO_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def start_local(tmp_path: Path) -> Iterator[Callable[..., LocalProcess]]:
    """Start `arcollect local ARGS --port <free>` in this test's directory (each start in the same one, so
    a restart finds the data the last run saved); stopped (then killed) at teardown."""
    started: list[LocalProcess] = []

    def start(*args: str) -> LocalProcess:
        port = free_port()
        log = tmp_path / f"local-{port}.log"
        with log.open("w") as sink:
            process = subprocess.Popen(
                arcollect_command("local", "--port", str(port), *args),
                cwd=tmp_path,
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
                env=_clean_environment(),
            )
        local = LocalProcess(process=process, directory=tmp_path, port=port, log=log)
        started.append(local)
        return local

    yield start
    for local in started:
        if local.process.poll() is None:
            local.process.send_signal(signal.SIGTERM)
            try:
                local.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                local.process.kill()
                local.process.wait(timeout=10)


@pytest.fixture
def arcollect(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run one `arcollect` command in this test's directory."""
    return lambda *args, timeout=60: run_arcollect(tmp_path, *args, timeout=timeout)
