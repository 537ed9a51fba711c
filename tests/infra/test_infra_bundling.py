"""Docker-free packaging: the layer is pip-installed for Lambda's platform once per dependency list, and
each function's code folder holds exactly `shared/` and its own package."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from infra import bundling


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    for relative, text in {
        "functions/__init__.py": "",
        "functions/api/__init__.py": "",
        "functions/api/handler.py": "def handler(event, context): ...\n",
        "functions/other/handler.py": "",
        "shared/__init__.py": "",
        "shared/data/tables.py": "TABLES = []\n",
        "shared/__pycache__/tables.cpython-311.pyc": "",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def _files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def test_function_code_is_shared_plus_its_own_package(sources: Path, tmp_path: Path) -> None:
    built = bundling.function_code("api", build_root=tmp_path / "build", source_root=sources)

    assert _files(built.path) == {
        "functions/__init__.py",
        "functions/api/__init__.py",
        "functions/api/handler.py",
        "shared/__init__.py",
        "shared/data/tables.py",
    }


def test_function_code_is_rebuilt_only_when_a_source_changes(sources: Path, tmp_path: Path) -> None:
    build_root = tmp_path / "build"
    first = bundling.function_code("api", build_root=build_root, source_root=sources)
    again = bundling.function_code("api", build_root=build_root, source_root=sources)
    (sources / "shared/data/tables.py").write_text("TABLES = ['invoices']\n")
    changed = bundling.function_code("api", build_root=build_root, source_root=sources)

    assert again == first
    assert changed.source_hash != first.source_hash
    assert (changed.path / "shared/data/tables.py").read_text() == "TABLES = ['invoices']\n"
    assert not first.path.exists(), "the stale folder is cleaned up"


def test_a_function_without_a_handler_module_is_refused(sources: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        bundling.function_code("missing", build_root=tmp_path / "build", source_root=sources)


def test_layer_is_pip_installed_for_lambda_once_per_dependency_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []

    def fake_run(command: list[str], **_: Any) -> None:
        commands.append(command)
        target = Path(command[command.index("--target") + 1])
        target.mkdir(parents=True)
        (target / "installed.txt").write_text("ok")

    monkeypatch.setattr(subprocess, "run", fake_run)
    first = bundling.dependencies_layer(install=True, build_root=tmp_path)
    again = bundling.dependencies_layer(install=True, build_root=tmp_path)

    assert len(commands) == 1
    assert again == first
    assert (first.path / "python" / "installed.txt").exists()
    command = commands[0]
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    for flag, value in [
        ("--platform", "manylinux2014_aarch64"),
        ("--implementation", "cp"),
        ("--python-version", "3.13"),
    ]:
        assert command[command.index(flag) + 1] == value
    assert "--only-binary=:all:" in command
    assert command[-len(bundling.runtime_dependencies()) :] == bundling.runtime_dependencies()


def test_placeholder_layer_needs_no_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", pytest.fail)
    layer = bundling.dependencies_layer(install=False, build_root=tmp_path)
    assert (layer.path / "python").is_dir()


def _imported_top_level_modules(*roots: Path) -> set[str]:
    found: set[str] = set()
    for root in roots:
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found


def _distribution_closure(requirements: list[str]) -> set[str]:
    """Distributions pip installs for these requirements, read from this environment's metadata."""
    seen: set[str] = set()
    pending = [Requirement(text) for text in requirements]
    while pending:
        requirement = pending.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(requirement.name) or []:
            nested = Requirement(text)
            if nested.marker is None or nested.marker.evaluate({"extra": "", "python_version": "3.13"}):
                pending.append(nested)
    return seen


def test_the_layer_provides_every_package_the_lambda_code_imports() -> None:
    """A module `shared/` or `functions/` imports but the layer lacks would fail every cold start."""
    repo = bundling.REPO_ROOT
    third_party = (
        _imported_top_level_modules(repo / "shared", repo / "functions")
        - set(sys.stdlib_module_names)
        - {"shared", "functions", "__future__"}
    )
    shipped = _distribution_closure(bundling.runtime_dependencies())
    providers = metadata.packages_distributions()

    missing = {
        module
        for module in third_party
        if not {name.lower().replace("_", "-") for name in providers.get(module, [])} & shipped
    }
    assert missing == set(), f"add the distributions of {sorted(missing)} to [project].dependencies"
