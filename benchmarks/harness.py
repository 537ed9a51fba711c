"""The pure parts of the harness: medians and ratios, parameters, the results files and the table."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path(".bench") / "results.json"
ENV_PREFIX = "BENCH_"  # BENCH_OPEN_INVOICES=20000 sets the parameter open_invoices

Figures = dict[str, float]
Params = dict[str, float]


class Benchmark(Protocol):
    """What each benchmark module provides (a module satisfies this protocol)."""

    NAME: str
    DEFAULTS: Mapping[str, float]  # the full-size run
    QUICK: Mapping[str, float]  # `--quick`: the same code at a size that runs in seconds

    def run(self, params: Mapping[str, float]) -> Figures: ...


def median(values: Iterable[float]) -> float:
    collected = list(values)
    if not collected:
        raise ValueError("median of no values")
    return float(statistics.median(collected))


def ratio(numerator: float, denominator: float) -> float:
    """numerator ÷ denominator, refusing a zero or negative denominator (a ratio of nothing is a bug)."""
    if denominator <= 0:
        raise ValueError(f"ratio with denominator {denominator}")
    return numerator / denominator


def parse_number(text: str) -> float:
    """'20000' -> 20000 (an int), '0.01' -> 0.01."""
    text = text.strip().replace("_", "")
    try:
        return int(text)
    except ValueError:
        return float(text)


def resolve_params(
    defaults: Mapping[str, float],
    quick: Mapping[str, float],
    *,
    use_quick: bool,
    environ: Mapping[str, str],
    overrides: Mapping[str, float],
) -> Params:
    """Defaults, then the quick sizes if asked, then BENCH_<NAME> variables, then --set NAME=VALUE."""
    params: Params = dict(defaults)
    if use_quick:
        params.update(quick)
    for name in params:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            params[name] = parse_number(raw)
    params.update({name: value for name, value in overrides.items() if name in params})
    return params


def parse_overrides(pairs: Iterable[str], known: Iterable[str]) -> dict[str, float]:
    """`--set NAME=VALUE` arguments; an unknown name is an error, not a silent no-op."""
    known_names = set(known)
    overrides: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--set {pair!r}: expected NAME=VALUE")
        if name not in known_names:
            raise ValueError(f"--set {name}: unknown parameter (known: {', '.join(sorted(known_names))})")
        overrides[name] = parse_number(value)
    return overrides


def merge_figures(into: Figures, new: Mapping[str, float], source: str) -> None:
    for name, value in new.items():
        if name in into:
            raise ValueError(f"{source} reports {name!r}, which another benchmark already reported")
        into[name] = value


def check_figures(figures: Mapping[str, Any]) -> None:
    """The results file is flat: non-empty names, finite numbers (a bool is not a figure)."""
    for name, value in figures.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"figure name {name!r} must be a non-empty string")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"figure {name!r} is {type(value).__name__}, not a number")
        if not math.isfinite(value):
            raise ValueError(f"figure {name!r} is {value}")


def write_results(out: Path, figures: Mapping[str, float], meta: Mapping[str, Any]) -> tuple[Path, Path]:
    """`out` gets the flat figures (sorted by name); `meta.json` beside it gets the run's context."""
    check_figures(figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta_path = out.with_name("meta.json")
    out.write_text(json.dumps(dict(sorted(figures.items())), indent=2) + "\n")
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
    return out, meta_path


def format_value(value: float) -> str:
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def format_table(figures: Mapping[str, float]) -> str:
    if not figures:
        return "(no figures)"
    width = max(len(name) for name in figures)
    return "\n".join(f"{name:<{width}}  {format_value(value):>14}" for name, value in figures.items())


def machine_meta() -> dict[str, Any]:
    """What a reader needs to compare two results files: when, where, which commit."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain")
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
    }
