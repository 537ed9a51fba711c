"""Cold-start import time of each Lambda function's handler module, as a ratio to boto3's own.

Why: a Lambda cold start pays for every module the handler imports before the first event. boto3 is the
floor every function pays, so each handler is measured against `import boto3; boto3.client("dynamodb")`
timed the same way in the same run (goal: ratio at most 1.5).

Measured: for every `functions/*/handler.py` (found on disk, so new functions are included) and the
baseline, `runs` fresh `python -c` processes each, interleaved so machine noise hits all alike; the
child times only the import, with time.perf_counter, so interpreter start-up is left out. One discarded
warm-up process per target compiles the .pyc files first. Figures are medians and their ratios.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from benchmarks.harness import REPO_ROOT, Figures, median, ratio

NAME = "cold_imports"
DEFAULTS: Mapping[str, float] = {"cold_runs": 7}
QUICK: Mapping[str, float] = {"cold_runs": 3}

BASELINE = 'import boto3\nboto3.client("dynamodb", region_name="us-east-1")'
_CHILD = "import time\n_t = time.perf_counter()\n{statement}\nprint(repr(time.perf_counter() - _t))\n"


def handler_modules() -> dict[str, str]:
    """{function name: module}, for every functions/<name>/handler.py."""
    return {
        path.parent.name: f"functions.{path.parent.name}.handler"
        for path in sorted((REPO_ROOT / "functions").glob("*/handler.py"))
    }


def child_environment() -> dict[str, str]:
    """What a function's module needs at import time, as Lambda would set it; no real AWS account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARCOLLECT_", "POWERTOOLS_"))}
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        POWERTOOLS_SERVICE_NAME="benchmark",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def time_import(statement: str, env: Mapping[str, str]) -> float:
    """Seconds the statement takes in a fresh interpreter, measured inside it."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(statement=statement)],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{statement!r} failed in a fresh process:\n{done.stderr.strip()}")
    return float(done.stdout.strip().splitlines()[-1])


def run(params: Mapping[str, float]) -> Figures:
    targets = {"baseline": BASELINE} | {name: f"import {module}" for name, module in handler_modules().items()}
    env = child_environment()
    for statement in targets.values():
        time_import(statement, env)  # warm-up: write the .pyc files
    samples: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(int(params["cold_runs"])):
        for name, statement in targets.items():
            samples[name].append(time_import(statement, env))

    baseline = median(samples.pop("baseline"))
    figures: Figures = {"cold_import_baseline_s": baseline}
    ratios = []
    for name, times in samples.items():
        figures[f"cold_import_s.{name}"] = median(times)
        figures[f"cold_import_ratio.{name}"] = ratio(median(times), baseline)
        ratios.append(figures[f"cold_import_ratio.{name}"])
    figures["cold_import_ratio_max"] = max(ratios)
    return figures
