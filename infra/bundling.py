"""Docker-free Lambda packaging: a layer of the runtime dependencies installed by pip for the Lambda
platform, and one code folder per function holding `shared/` and that function's own package.

Both are built under `.build/` in content-addressed folders, so a repeated synth reuses them and two synths
running at once never see a half-written folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_ROOT = REPO_ROOT / ".build"

LAMBDA_PYTHON_VERSION = "3.13"
LAMBDA_PLATFORM = "manylinux2014_aarch64"

_IGNORED_DIRS = {"__pycache__"}
_IGNORED_SUFFIXES = {".pyc", ".pyo"}


Builder = Callable[[Path], None]


@dataclass(frozen=True)
class BuiltAsset:
    """A folder ready to become a Lambda asset, with the hash of what it was built from."""

    path: Path
    source_hash: str


def runtime_dependencies(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The Lambda code's requirements: `[project].dependencies`, the one list the project keeps."""
    with pyproject.open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def dependencies_layer(*, install: bool, build_root: Path = BUILD_ROOT) -> BuiltAsset:
    """The layer folder (`python/` inside) for the runtime dependencies.

    With `install=False` the folder is an empty placeholder: tests synthesize without waiting for pip.
    """
    if not install:
        return _build_once(build_root / "layers", "placeholder", "placeholder", _write_placeholder_layer)
    requirements = runtime_dependencies()
    recipe = {"requirements": requirements, "platform": LAMBDA_PLATFORM, "python": LAMBDA_PYTHON_VERSION}
    digest = _digest(json.dumps(recipe, sort_keys=True).encode())
    return _build_once(build_root / "layers", "dependencies", digest, lambda target: _pip_install(requirements, target))


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


def _pip_install(requirements: list[str], target: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile",
        "--platform", LAMBDA_PLATFORM,
        "--implementation", "cp",
        "--python-version", LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        "--target", str(target / "python"),
        *requirements,
    ]  # fmt: skip
    subprocess.run(command, check=True)
    # Console scripts point at this machine's interpreter: useless in Lambda.
    shutil.rmtree(target / "python" / "bin", ignore_errors=True)


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
