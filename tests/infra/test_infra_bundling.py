"""Docker-free packaging: the layer is uv.lock's runtime part, hash-checked and installed for Lambda's
platform once per lock, and each function's code folder holds exactly `shared/` and its own package."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


def _locked_versions(lock: Path = bundling.REPO_ROOT / "uv.lock") -> dict[str, set[str]]:
    """{package: its versions in uv.lock} (a package can be locked at two versions for two Python ranges)."""
    versions: dict[str, set[str]] = {}
    for package in tomllib.loads(lock.read_text())["package"]:
        versions.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    return versions


def _requirements(text: str) -> dict[str, Requirement]:
    """{name: requirement} of a requirements.txt whose lines continue with backslashes."""
    joined = text.replace("\\\n", " ")
    found = {}
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line.split(" --hash=")[0].strip())
            found[canonicalize_name(requirement.name)] = requirement
    return found


def test_the_layers_requirements_are_the_locks_runtime_pins_with_their_hashes() -> None:
    text = bundling.locked_runtime_requirements()
    requirements = _requirements(text)
    locked = _locked_versions()

    with (bundling.REPO_ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    for pin in map(Requirement, project["dependencies"]):
        assert str(requirements[canonicalize_name(pin.name)].specifier) == str(pin.specifier)
    # Transitive dependencies, which pyproject.toml does not name, come pinned from the lock.
    for transitive in ("botocore", "jmespath", "urllib3", "pydantic-core"):
        (version,) = [spec.version for spec in requirements[transitive].specifier]
        assert version in locked[transitive], f"{transitive} {version} is not what uv.lock holds"
    for name, requirement in requirements.items():
        assert [spec.operator for spec in requirement.specifier] == ["=="], f"{name} is not pinned"
    entries = [entry for entry in text.replace("\\\n", " ").splitlines() if entry.strip()]
    assert all("--hash=sha256:" in entry for entry in entries), "every requirement carries its hashes"
    never_shipped = {"moto", "typer", "rich", "aws-cdk-lib", "cfn-lint", "pytest", "mypy", "uv", "arcollect"}
    assert never_shipped.isdisjoint(requirements)


def test_layer_is_installed_from_the_lock_for_lambda_once_per_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = {"text": "jmespath==1.0.1 --hash=sha256:" + "0" * 64 + "\n"}
    commands: list[list[str]] = []
    installed: list[str] = []

    def fake_run(command: list[str], **_: Any) -> None:
        commands.append(command)
        installed.append(Path(command[command.index("--requirements") + 1]).read_text())
        target = Path(command[command.index("--target") + 1])
        target.mkdir(parents=True)
        (target / "installed.txt").write_text("ok")

    monkeypatch.setattr(bundling, "locked_runtime_requirements", lambda: lock["text"])
    monkeypatch.setattr(subprocess, "run", fake_run)
    first = bundling.dependencies_layer(install=True, build_root=tmp_path)
    again = bundling.dependencies_layer(install=True, build_root=tmp_path)
    lock["text"] = "jmespath==1.1.0 --hash=sha256:" + "1" * 64 + "\n"
    updated = bundling.dependencies_layer(install=True, build_root=tmp_path)

    assert len(commands) == 2, "the same lock is installed once; a changed lock again"
    assert again == first and updated.source_hash != first.source_hash
    assert installed == ["jmespath==1.0.1 --hash=sha256:" + "0" * 64 + "\n", lock["text"]]
    assert (updated.path / "python" / "installed.txt").exists()
    command = commands[0]
    assert command[1:3] == ["pip", "install"]
    for flag, value in [
        ("--python-platform", "aarch64-manylinux_2_34"),
        ("--python-version", "3.13"),
        ("--only-binary", ":all:"),
    ]:
        assert command[command.index(flag) + 1] == value
    assert "--require-hashes" in command


def _elf_machine(path: Path) -> int:
    """The e_machine field of an ELF file: 183 is AArch64, 62 is x86-64."""
    return int.from_bytes(path.read_bytes()[18:20], "little")


def test_the_built_layer_holds_the_locked_versions_compiled_for_lambda_arm64(tmp_path: Path) -> None:
    """The real thing, from the package index: what Lambda would import, at the lock's versions."""
    layer = bundling.dependencies_layer(install=True, build_root=tmp_path)
    site = layer.path / "python"
    locked = _locked_versions()

    shipped = {
        canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions(path=[str(site)])
    }
    assert shipped.keys() == _requirements(bundling.locked_runtime_requirements()).keys()
    assert all(version in locked[name] for name, version in shipped.items())
    (extension,) = site.glob("pydantic_core/_pydantic_core.cpython-313-*.so")
    assert _elf_machine(extension) == 183
    assert not (site / "bin").exists()


def test_placeholder_layer_needs_no_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", pytest.fail)
    layer = bundling.dependencies_layer(install=False, build_root=tmp_path)
    assert (layer.path / "python").is_dir()


def test_a_lock_that_no_longer_matches_pyproject_is_refused(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(bundling.REPO_ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    pinned = pyproject.read_text()
    assert '"iso4217==' in pinned
    pyproject.write_text("".join(line for line in pinned.splitlines(True) if '"iso4217==' not in line))

    with pytest.raises(RuntimeError, match=r"uv\.lock` needs to be updated"):
        bundling.locked_runtime_requirements(tmp_path)


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


def test_the_layer_provides_every_package_the_lambda_code_imports() -> None:
    """A module `shared/` or `functions/` imports but the layer lacks would fail every cold start."""
    repo = bundling.REPO_ROOT
    third_party = (
        _imported_top_level_modules(repo / "shared", repo / "functions")
        - set(sys.stdlib_module_names)
        - {"shared", "functions", "__future__"}
    )
    shipped = set(_requirements(bundling.locked_runtime_requirements()))
    providers = metadata.packages_distributions()

    missing = {
        module
        for module in third_party
        if not {canonicalize_name(name) for name in providers.get(module, [])} & shipped
    }
    assert missing == set(), f"add the distributions of {sorted(missing)} to [project].dependencies (make update-deps)"
