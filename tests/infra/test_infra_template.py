"""The template as a whole: cdk-nag clean, cfn-lint clean, every placeholder resolved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from cfnlint.api import lint_file
from synthesized_app import Synthesized

from infra.nag import NAG_PACK, acknowledge, check_with_cdk_nag


def _strings_outside_sub(node: Any) -> Iterator[str]:
    """Every string in the template except Fn::Sub's own template (where `${...}` is meant)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings_outside_sub(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::Sub":
                _template, *variables = value if isinstance(value, list) else [value]
                yield from _strings_outside_sub(variables)
            else:
                yield from _strings_outside_sub(value)


def test_no_unresolved_placeholder(stage: Synthesized) -> None:
    unresolved = [s for s in _strings_outside_sub(stage.template) if "${" in s]
    assert unresolved == []


def test_cdk_nag_reports_no_finding(stage: Synthesized) -> None:
    """The synth itself fails on a finding; the report in the cloud assembly is the evidence."""
    assert _nag_findings(stage.outdir) == []


def test_every_acknowledgement_says_why(stage: Synthesized) -> None:
    acknowledged = [
        rule
        for resource in stage.template["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledged
    for rule in acknowledged:
        assert rule["id"].startswith(f"{NAG_PACK}-")
        assert len(rule["reason"].split()) >= 10, rule


def test_cdk_nag_fails_the_synth_on_every_finding_not_acknowledged(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    bucket = s3.Bucket(Stack(app, "Probe"), "Bucket", enforce_ssl=False)  # no access logs, no TLS rule
    acknowledge(bucket, "AwsSolutions-S1", reason="a probe bucket that exists only inside this test run")
    check_with_cdk_nag(app)

    with pytest.raises(RuntimeError, match="AwsSolutions-S10"):
        app.synth()
    assert _nag_findings(tmp_path) == ["AwsSolutions-S10"]


def _nag_findings(outdir: Path) -> list[str]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        violation["ruleName"]
        for plugin in report["pluginReports"]
        if plugin["pluginName"] == NAG_PACK
        for violation in plugin["violations"]
    ]


def test_cfn_lint_finds_no_error(stage: Synthesized) -> None:
    errors = [str(match) for match in lint_file(stage.template_path) if match.rule.id.startswith("E")]
    assert errors == []


def test_outputs_tell_the_cli_where_things_are(dev: Synthesized) -> None:
    assert {"ApiUrl", "IngestBucketName", "TablePrefix"} <= set(dev.template["Outputs"])
