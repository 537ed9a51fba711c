"""The fresh-install benchmark's own parts: what it copies, the environment it gives the fresh system, and
how it tells an answering /health from a dead process."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import fresh_install


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_the_fresh_copy_holds_tracked_and_new_files_but_nothing_git_ignores_or_deleted(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for relative, text in {
        ".gitignore": ".venv/\n",
        "Makefile": "install:\n",
        "infra/bundling.py": "",
        "gone.txt": "",
    }.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "start")
    (repo / "gone.txt").unlink()
    (repo / "uv.lock").write_text("version = 1\n")
    (repo / ".venv/bin").mkdir(parents=True)
    (repo / ".venv/bin/python").write_text("")

    into = tmp_path / "fresh"
    copied = fresh_install.copy_working_tree(repo, into)

    on_disk = {str(path.relative_to(into)) for path in into.rglob("*") if path.is_file()}
    assert on_disk == {".gitignore", "Makefile", "infra/bundling.py", "uv.lock"}
    assert copied == 4


def test_the_fresh_system_gets_no_aws_credentials_nor_this_venv_and_empty_caches_when_cold() -> None:
    mine = {
        "PATH": "/usr/bin",
        "HOME": "/home/me",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "ARCOLLECT_STAGE": "prod",
        "VIRTUAL_ENV": "/work/main/.venv",
        "MAKEFLAGS": "-j2",
        "UV_CACHE_DIR": "/home/me/.cache/uv",
    }

    cold = fresh_install.child_environment(mine, cold_cache=Path("/tmp/empty-cache"))
    warm = fresh_install.child_environment(mine, cold_cache=None)

    assert (cold["PATH"], cold["HOME"]) == ("/usr/bin", "/home/me")
    for dropped in ("AWS_SECRET_ACCESS_KEY", "ARCOLLECT_STAGE", "VIRTUAL_ENV", "MAKEFLAGS"):
        assert dropped not in cold and dropped not in warm
    assert (cold["UV_CACHE_DIR"], cold["PIP_NO_CACHE_DIR"]) == ("/tmp/empty-cache", "1")
    assert warm["UV_CACHE_DIR"] == "/home/me/.cache/uv" and "PIP_NO_CACHE_DIR" not in warm


@pytest.fixture
def health_server() -> Iterator[tuple[str, list[int]]]:
    """A server whose /health answers with the status at the head of the list."""
    statuses = [503]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(statuses[0])
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", statuses
    finally:
        server.shutdown()
        server.server_close()


def test_health_is_read_as_its_status_or_none_while_nothing_listens(health_server: tuple[str, list[int]]) -> None:
    url, statuses = health_server
    assert fresh_install.health_status(url) == 503
    statuses[0] = 200
    assert fresh_install.health_status(url) == 200
    assert fresh_install.health_status(f"http://127.0.0.1:{fresh_install.free_port()}") is None


def test_waiting_stops_with_the_exit_code_when_the_system_dies_before_answering() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    try:
        with pytest.raises(RuntimeError, match=r"exited \(3\) before /health"):
            fresh_install.wait_until(lambda: False, process=process, timeout=60, what="/health")
    finally:
        process.wait(timeout=30)
