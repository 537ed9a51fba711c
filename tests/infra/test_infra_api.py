"""The REST API: GET /health proxied to the api function, IAM on staff routes, throttled, logged, behind WAF."""

from __future__ import annotations

from typing import Any

from synthesized_app import Synthesized


def _methods(synth: Synthesized) -> dict[tuple[str, str], dict[str, Any]]:
    """Methods by (HTTP method, full path)."""
    resources = synth.resources("AWS::ApiGateway::Resource")

    def path_of(resource_id: str) -> str:
        properties = resources[resource_id]["Properties"]
        parent = properties["ParentId"]
        prefix = "" if "Fn::GetAtt" in parent else path_of(parent["Ref"])
        return f"{prefix}/{properties['PathPart']}"

    return {
        (method["Properties"]["HttpMethod"], path_of(method["Properties"]["ResourceId"]["Ref"])): method["Properties"]
        for method in synth.resources("AWS::ApiGateway::Method").values()
    }


def _integrated_function(method: dict[str, Any]) -> str:
    integration = method["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    parts = integration["Uri"]["Fn::Join"][1]
    (function_ref,) = [part["Fn::GetAtt"][0] for part in parts if isinstance(part, dict) and "Fn::GetAtt" in part]
    return str(function_ref)


def test_get_health_is_public_and_proxied_to_the_api_function(dev: Synthesized) -> None:
    health = _methods(dev)[("GET", "/health")]
    assert health["AuthorizationType"] == "NONE"
    assert _integrated_function(health) == dev.our_function_ids()["api"]


def test_staff_routes_need_iam(dev: Synthesized) -> None:
    staff = {key: method for key, method in _methods(dev).items() if key[1].startswith("/staff")}
    assert staff
    for method in staff.values():
        assert method["AuthorizationType"] == "AWS_IAM"
        assert _integrated_function(method) == dev.our_function_ids()["api"]


def test_stage_is_throttled_access_logged_and_traced(stage: Synthesized) -> None:
    (api_stage,) = stage.resources("AWS::ApiGateway::Stage").values()
    properties = api_stage["Properties"]

    assert properties["StageName"] == stage.config.stage
    assert properties["TracingEnabled"] is True
    assert "DestinationArn" in properties["AccessLogSetting"]
    (settings,) = properties["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == stage.config.api_rate_limit
    assert settings["ThrottlingBurstLimit"] == stage.config.api_burst_limit
    assert settings["DataTraceEnabled"] is False  # bodies carry TINs and tokens


def test_waf_guards_the_stage_with_managed_rules_and_a_rate_limit(dev: Synthesized) -> None:
    (acl_id, acl), *_ = dev.resources("AWS::WAFv2::WebACL").items()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}

    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
    rate = [rule for rule in rules.values() if "RateBasedStatement" in rule["Statement"]]
    assert rate and rate[0]["Action"] == {"Block": {}}

    (association,) = dev.resources("AWS::WAFv2::WebACLAssociation").values()
    (stage_id,) = dev.resources("AWS::ApiGateway::Stage")
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert {"Ref": stage_id} in association["Properties"]["ResourceArn"]["Fn::Join"][1]
