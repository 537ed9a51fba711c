"""Docker-free Lambda packaging: a layer of the runtime dependencies exactly as uv.lock pins them, installed
with their hashes checked for the Lambda platform, and one code folder per function holding `shared/` and
that function's own package.

Both are built under `.build/` in content-addressed folders, so a repeated synth reuses them and two synths
running at once never see a half-written folder.

The layer comes from the same lock as `make install`, so Lambda runs the versions the tests ran, down to
every transitive dependency, and a file on the index that no longer matches its recorded hash stops the
build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_ROOT = REPO_ROOT / ".build"

LAMBDA_PYTHON_VERSION = "3.13"
LAMBDA_PLATFORM = "aarch64-manylinux_2_34"  # Lambda python3.13 runs on Amazon Linux 2023: glibc 2.34

_IGNORED_DIRS = {"__pycache__"}
_IGNORED_SUFFIXES = {".pyc", ".pyo"}


Builder = Callable[[Path], None]


@dataclass(frozen=True)
class BuiltAsset:
    """A folder ready to become a Lambda asset, with the hash of what it was built from."""

    path: Path
    source_hash: str


def locked_runtime_requirements(project_root: Path = REPO_ROOT) -> str:
    """The Lambda code's requirements as uv.lock pins them, in requirements.txt form: `[project].dependencies`
    and everything they pull in, each `name==version` with the hashes of its published files.

    No extras: the command line, CDK and the test tools never ship. `--locked` refuses a lock that no longer
    matches pyproject.toml (`make update-deps`) rather than bundling something the tests never ran.
    """
    command = [
        _uv(), "export", "--locked", "--python", sys.executable,
        "--no-dev", "--no-emit-project", "--no-header", "--no-annotate",
        "--format", "requirements.txt",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=project_root, env=_uv_environment(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the Lambda layer's requirements could not be read from uv.lock:\n{done.stderr.strip()}")
    return done.stdout


def dependencies_layer(*, install: bool, build_root: Path = BUILD_ROOT) -> BuiltAsset:
    """The layer folder (`python/` inside) for the runtime dependencies.

    With `install=False` the folder is an empty placeholder: tests synthesize without waiting for uv.
    """
    if not install:
        return _build_once(build_root / "layers", "placeholder", "placeholder", _write_placeholder_layer)
    requirements = locked_runtime_requirements()
    recipe = {"requirements": requirements, "platform": LAMBDA_PLATFORM, "python": LAMBDA_PYTHON_VERSION}
    digest = _digest(json.dumps(recipe, sort_keys=True).encode())
    return _build_once(build_root / "layers", "dependencies", digest, lambda target: _uv_install(requirements, target))


def function_code(name: str, *, build_root: Path = BUILD_ROOT, source_root: Path = REPO_ROOT) -> BuiltAsset:
    """The code folder of `functions/<name>`: the handler is `functions.<name>.handler.handler`."""
    handler_package = source_root / "functions" / name
    if not (handler_package / "handler.py").is_file():
        raise FileNotFoundError(f"{handler_package}/handler.py: every function needs a handler module")
    sources = {
        Path("functions/__init__.py"): source_root / "functions" / "__init__.py",
        **_tree(source_root / "shared", Path("shared")),
        **_tree(handler_package, Path("functions") / name),
    }
    digest = _digest(b"".join(str(rel).encode() + b"\0" + src.read_bytes() for rel, src in sorted(sources.items())))

    def copy_sources(target: Path) -> None:
        for relative, source in sources.items():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)

    return _build_once(build_root / "functions", name, digest, copy_sources)


def _build_once(parent: Path, name: str, digest: str, build: Builder) -> BuiltAsset:
    """Build `parent/name/digest` unless it exists; drop the folders of older digests."""
    home = parent / name
    final = home / digest
    if not final.is_dir():
        home.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=home))
        try:
            build(staging)
            os.replace(staging, final)
        except OSError:
            # Another synth finished the same folder first: theirs is identical.
            if not final.is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for stale in home.iterdir():
            if stale != final and not stale.name.startswith(".partial-"):
                shutil.rmtree(stale, ignore_errors=True)
    return BuiltAsset(path=final, source_hash=digest)


def _uv_install(requirements: str, target: Path) -> None:
    """Wheels built for Lambda's platform only (nothing compiled here), each checked against the lock's hash.

    uv rather than `pip --platform`: it evaluates the lock's environment markers for the target platform and
    Python, where pip would evaluate them for this machine.
    """
    with tempfile.TemporaryDirectory(prefix="arcollect-layer-") as scratch:
        requirements_file = Path(scratch) / "requirements.txt"
        requirements_file.write_text(requirements)
        command = [
            _uv(), "pip", "install",
            "--quiet", "--no-compile-bytecode", "--no-installer-metadata",
            "--python", sys.executable,
            "--python-platform", LAMBDA_PLATFORM,
            "--python-version", LAMBDA_PYTHON_VERSION,
            "--only-binary", ":all:",
            "--require-hashes",
            "--target", str(target / "python"),
            "--requirements", str(requirements_file),
        ]  # fmt: skip
        subprocess.run(command, env=_uv_environment(), check=True)
    # Console scripts point at this machine's interpreter: useless in Lambda.
    shutil.rmtree(target / "python" / "bin", ignore_errors=True)


def _uv() -> str:
    """The uv the lock installed into this environment (the `uv` package ships its binary)."""
    from uv import find_uv_bin

    return str(find_uv_bin())


def _uv_environment() -> dict[str, str]:
    """Like pip, trust the system's certificate store (a TLS-inspecting proxy's CA lives there); never let uv
    fetch a Python of its own."""
    return {"UV_SYSTEM_CERTS": "1", "UV_PYTHON_DOWNLOADS": "never", **os.environ}


def _write_placeholder_layer(target: Path) -> None:
    (target / "python").mkdir()
    (target / "python" / "PLACEHOLDER.txt").write_text(
        "Synthesized with -c bundle=false: this layer holds no dependencies and cannot run the functions.\n"
    )


def _tree(root: Path, under: Path) -> dict[Path, Path]:
    return {under / path.relative_to(root): path for path in _files(root)}


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative_parts = path.relative_to(root).parts
        if path.is_file() and not _IGNORED_DIRS.intersection(relative_parts) and path.suffix not in _IGNORED_SUFFIXES:
            yield path


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:20]
