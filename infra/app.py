"""The CDK app: `python -m infra.app [-c stage=prod] [-c bundle=false]` or `cdk synth` (cdk.json).

Run directly, the app reads cdk.json's context itself, so both ways synthesize the same template.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import App, Tags

from infra.config import StageConfig
from infra.nag import check_with_cdk_nag
from infra.stacks.arcollect_stack import ArcollectStack

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def build_app(
    context: Mapping[str, Any] | None = None, *, outdir: str | None = None, cloudformation_checks: bool = True
) -> App:
    """The app with cdk.json's context as defaults, `context` over it, and the CDK CLI's over both.

    `cloudformation_checks=False` skips CDK's built-in template validation (most of a synth's time); tests
    do that because they run cfn-lint on the template anyway.
    """
    app = App(
        context={**cdk_json_context(), **(context or {})},
        outdir=outdir,
        builtin_cloud_formation_validation=cloudformation_checks,
    )
    config = StageConfig.from_context(app.node)
    stack = ArcollectStack(app, config.name_prefix, config=config)
    Tags.of(stack).add("project", "arcollect")
    Tags.of(stack).add("stage", config.stage)
    check_with_cdk_nag(app)
    return app


def cdk_json_context() -> dict[str, Any]:
    with CDK_JSON.open() as file:
        return dict(json.load(file).get("context", {}))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.app", description=__doc__)
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="context, as with cdk -c"
    )
    args = parser.parse_args(argv)
    context = dict(_key_value(item) for item in args.context)
    # CDK_OUTDIR is how the CDK CLI passes the output folder; alone, we default to cdk.out like it does.
    build_app(context, outdir=os.environ.get("CDK_OUTDIR", "cdk.out")).synth()


def _key_value(item: str) -> tuple[str, str]:
    key, separator, value = item.partition("=")
    if not separator:
        raise SystemExit(f"context {item!r}: write it as KEY=VALUE")
    return key, value


if __name__ == "__main__":
    main()
