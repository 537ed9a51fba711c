"""Fresh install to ready: what a newcomer waits for between `make run` in a new clone and a system that answers.

Why: the first `make run` is how a user first meets the product. With pip it sat silent for about 160 s;
the dependencies now come from uv.lock through uv, and this keeps the whole wait measured.

Measured in a temporary directory holding the working tree's files (what git tracks or would add, so
uncommitted work counts; never .venv, .build or .arcollect):
- `fresh_install_s`: `make install` there: a new .venv, uv bootstrapped into it, then `uv sync --locked`.
  With `fresh_install_cold_cache` 1 (the full run) uv and pip get empty caches, so every package is
  downloaded as on a new machine; with 0 (`--quick`) this machine's warm caches are used. The figure
  `fresh_install_cold_cache` says which, beside the time.
- `fresh_start_health_s`: from starting `arcollect local --demo --port <free port>` (that .venv, that
  directory) until `/health` answers 200.
- `fresh_start_ready_s`: until `/health` answers 200 and `.arcollect/local.json` is written (the demo
  ledger loaded: ready, as the README defines it).
- `fresh_install_to_ready_s`: install plus ready, i.e. a fresh `make run` until the system is usable.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from benchmarks.harness import REPO_ROOT, Figures

NAME = "fresh_install"
DEFAULTS: Mapping[str, float] = {"fresh_install_cold_cache": 1}
QUICK: Mapping[str, float] = {"fresh_install_cold_cache": 0}

INSTALL_TIMEOUT_S = 1800
START_TIMEOUT_S = 600
_POLL_S = 0.1

# What would point the fresh system at a real AWS account, or make the nested `make` a sub-make of ours.
_DROPPED_PREFIXES = ("AWS_", "ARCOLLECT_", "MOTO_")
_DROPPED = {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}


def working_tree_files(root: Path) -> list[Path]:
    """The files a clone plus the uncommitted work would hold: tracked and not-ignored untracked, still on disk."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    names = sorted({name for name in listed.decode().split("\0") if name})
    return [Path(name) for name in names if (root / name).is_file()]


def copy_working_tree(root: Path, into: Path) -> int:
    files = working_tree_files(root)
    for relative in files:
        (into / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, into / relative)
    return len(files)


def child_environment(environ: Mapping[str, str], *, cold_cache: Path | None) -> dict[str, str]:
    """The user's environment as a new shell would have it; with `cold_cache`, uv and pip start with no cache."""
    env = {
        key: value for key, value in environ.items() if not key.startswith(_DROPPED_PREFIXES) and key not in _DROPPED
    }
    env["PYTHONUNBUFFERED"] = "1"
    if cold_cache is not None:
        env["UV_CACHE_DIR"] = str(cold_cache)
        env["PIP_NO_CACHE_DIR"] = "1"
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def health_status(url: str) -> int | None:
    """The HTTP status of /health, or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def wait_until(check: Callable[[], bool], *, process: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process.poll() is not None:
            raise RuntimeError(f"arcollect local exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {timeout:.0f} s")
        time.sleep(_POLL_S)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _install(workdir: Path, env: Mapping[str, str], log: Path) -> float:
    make = shutil.which("make")
    if make is None:
        raise RuntimeError("make is not installed: the fresh install is `make install`")
    started = time.perf_counter()
    with log.open("wb") as output:
        done = subprocess.run(
            [make, "install"], cwd=workdir, env=dict(env), stdout=output, stderr=subprocess.STDOUT,
            timeout=INSTALL_TIMEOUT_S, check=False,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"make install failed ({done.returncode}):\n{_tail(log)}")
    return seconds


def _start(workdir: Path, env: Mapping[str, str], log: Path) -> tuple[float, float]:
    """Seconds from starting `arcollect local --demo` to /health answering 200, then to ready."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state_file = workdir / ".arcollect" / "local.json"
    command = [str(workdir / ".venv" / "bin" / "arcollect"), "local", "--demo", "--port", str(port)]
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=workdir, env=dict(env), stdout=output, stderr=subprocess.STDOUT)
        try:
            try:
                wait_until(lambda: health_status(url) == 200, process=process, timeout=START_TIMEOUT_S, what="/health")
                healthy = time.perf_counter() - started
                wait_until(state_file.is_file, process=process, timeout=START_TIMEOUT_S, what="local.json")
                wait_until(lambda: health_status(url) == 200, process=process, timeout=START_TIMEOUT_S, what="/health")
                ready = time.perf_counter() - started
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}:\n{_tail(log)}") from None
        finally:
            _stop(process)
    return healthy, ready


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as `make run` is stopped; killed if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def run(params: Mapping[str, float]) -> Figures:
    cold = bool(params["fresh_install_cold_cache"])
    with tempfile.TemporaryDirectory(prefix="arcollect-fresh-") as scratch:
        workdir = Path(scratch) / "arcollect"
        workdir.mkdir()
        copy_working_tree(REPO_ROOT, workdir)
        env = child_environment(os.environ, cold_cache=Path(scratch) / "uv-cache" if cold else None)
        install_s = _install(workdir, env, Path(scratch) / "install.log")
        healthy_s, ready_s = _start(workdir, env, Path(scratch) / "local.log")
    return {
        "fresh_install_s": round(install_s, 2),
        "fresh_install_cold_cache": int(cold),
        "fresh_start_health_s": round(healthy_s, 2),
        "fresh_start_ready_s": round(ready_s, 2),
        "fresh_install_to_ready_s": round(install_s + ready_s, 2),
    }
