"""Cold-start import time of each Lambda function's handler module, as a ratio to boto3's own.

Why: a Lambda cold start pays for every module the handler imports before the first event. boto3 is the
floor every function pays, so each handler is measured against `import boto3; boto3.client("dynamodb")`
timed the same way in the same run (goal: ratio at most 1.5).

Measured: for every `functions/*/handler.py` (found on disk, so new functions are included) and the
baseline, `runs` fresh `python -c` processes each, interleaved so machine noise hits all alike; the
child times only the import, with time.perf_counter, so interpreter start-up is left out. One discarded
warm-up process per target compiles the .pyc files first. Figures are medians and their ratios.

A Lambda's first event also pays for what its handler builds once per container (services, clients, the
email deliverer), so for the dunning, portal and onboarding functions `cold_start_*` times the import plus that
first-call initialisation (`FIRST_CALL`: the handler's cached builder, with settings pointing at an endpoint nothing
listens on, which nothing at initialisation contacts), in the same interleaved processes and ratio to the
same baseline. The API function's first call is a real one, `GET /health` through its resolver, plus the services
and DynamoDB client its first customer route builds; the portal authorizer's is initialisation only (the
clients it reads the signing key and the session with), since checking a session needs both from AWS.
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
# What each function's first event builds after the import: its cached services and the clients its first call
# creates; the sending functions also build the deliverer and import what the first email renders with.
_FIRST_EMAIL = "import shared.documents.pdf, shared.dunning.render"
_DYNAMODB_CLIENT = "from shared.data.binding import shared_connection\nshared_connection().client"
_HEALTH_EVENT = {
    "resource": "/{proxy+}",
    "path": "/health",
    "httpMethod": "GET",
    "headers": {},
    "requestContext": {"requestId": "cold", "stage": "bench", "path": "/health", "httpMethod": "GET"},
    "body": None,
    "isBase64Encoded": False,
}
_CONTEXT = (
    "__import__('types').SimpleNamespace(function_name='api', memory_limit_in_mb=512, aws_request_id='cold', "
    "invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:api')"
)
FIRST_CALL = {
    "dunning_plan": 'h.services().client("s3")',
    "dunning_dispatch": f'_s = h.services()\n_s.dispatcher\n_s.deliverer.client("ses")\n{_FIRST_EMAIL}',
    "dunning_finish": "h.services().retry_queue",
    "dunning_send_retry": f'_s = h.services()\n_s.deliverer.client("ses")\n_s.retry_queue\n{_FIRST_EMAIL}',
    "email_feedback": "h.feedback_handler()",
    # A real first event for the API (GET /health through the resolver), then what its first customer route builds.
    "api": (
        f"assert h.handler({_HEALTH_EVENT!r}, {_CONTEXT})['statusCode'] == 200\n"
        f"h.portal_routes.portal_services().clock\n{_DYNAMODB_CLIENT}"
    ),
    # The authorizer's first check needs the signing key and the session, which nothing here serves: only what
    # it builds to ask for them (the Secrets Manager provider and the DynamoDB client).
    "portal_authorizer": f"h.portal_services()._fetch\n{_DYNAMODB_CLIENT}",
    # Onboarding: the step builds its checks (TIN rules, email rules with the DNS resolver, phone, the TIN vault's
    # KMS client) and the SES mailer; the sweep the mailer, Step Functions and the link key's provider.
    "onboarding_step": f"_s = h.onboarding_services()\n_s.checks\n_s.onboarding_mailer\n{_DYNAMODB_CLIENT}",
    "onboarding_sweep": (
        f"_s = h.onboarding_services()\n_s.onboarding_mailer\n_s.executions\n_s._fetch\n{_DYNAMODB_CLIENT}"
    ),
}
DUMMY_ENDPOINT = "http://127.0.0.1:9"
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


def first_call_environment() -> dict[str, str]:
    """The child environment plus a deployment's settings, as CDK sets them, pointing at a dummy endpoint."""
    from arcollect.local.deployment import LocalDeployment

    return child_environment() | LocalDeployment().settings(DUMMY_ENDPOINT).as_environment()


def first_call_statement(name: str, module: str) -> str:
    return f"import {module} as h\n{FIRST_CALL[name]}"


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
    modules = handler_modules()
    plain, configured = child_environment(), first_call_environment()
    targets: dict[str, tuple[str, Mapping[str, str]]] = {"baseline": (BASELINE, plain)}
    targets |= {name: (f"import {module}", plain) for name, module in modules.items()}
    targets |= {
        f"first_call.{name}": (first_call_statement(name, module), configured)
        for name, module in modules.items()
        if name in FIRST_CALL
    }
    for statement, env in targets.values():
        time_import(statement, env)  # warm-up: write the .pyc files
    samples: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(int(params["cold_runs"])):
        for name, (statement, env) in targets.items():
            samples[name].append(time_import(statement, env))

    baseline = median(samples.pop("baseline"))
    figures: Figures = {"cold_import_baseline_s": baseline}
    import_ratios: list[float] = []
    start_ratios: list[float] = []
    for name, times in samples.items():
        kind, _, function = name.rpartition(".")
        prefix = "cold_start" if kind == "first_call" else "cold_import"
        figures[f"{prefix}_s.{function}"] = median(times)
        figures[f"{prefix}_ratio.{function}"] = ratio(median(times), baseline)
        (start_ratios if kind else import_ratios).append(figures[f"{prefix}_ratio.{function}"])
    figures["cold_import_ratio_max"] = max(import_ratios)
    if start_ratios:
        figures["cold_start_ratio_max"] = max(start_ratios)
    return figures
