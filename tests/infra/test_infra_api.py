"""The REST API: every path proxied to the api function (public, the session authorizer on customer routes, or
IAM on staff routes), API Gateway's own errors in the contract's envelope, throttled, logged, behind WAF."""

from __future__ import annotations

import json
from typing import Any

import pytest
from synthesized_app import Synthesized

from shared.api.errors import HTTP_ERROR_CODES

API_FUNCTION_PATHS = {
    "/",
    "/health",
    "/openapi.json",
    "/docs",
    "/{proxy+}",
    "/portal",
    "/portal/session",
    "/portal/links",
    "/portal/{proxy+}",
    "/staff",
    "/staff/{proxy+}",
}


def _methods(synth: Synthesized) -> dict[tuple[str, str], dict[str, Any]]:
    """Methods by (HTTP method, full path)."""
    resources = synth.resources("AWS::ApiGateway::Resource")

    def path_of(resource: dict[str, Any]) -> str:
        if "Fn::GetAtt" in resource:  # the API's RootResourceId
            return ""
        properties = resources[resource["Ref"]]["Properties"]
        return f"{path_of(properties['ParentId'])}/{properties['PathPart']}"

    return {
        (method["Properties"]["HttpMethod"], path_of(method["Properties"]["ResourceId"]) or "/"): method["Properties"]
        for method in synth.resources("AWS::ApiGateway::Method").values()
    }


def _integrated_function(method: dict[str, Any]) -> str:
    integration = method["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    parts = integration["Uri"]["Fn::Join"][1]
    (function_ref,) = [part["Fn::GetAtt"][0] for part in parts if isinstance(part, dict) and "Fn::GetAtt" in part]
    return str(function_ref)


def _gateway_responses(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        response["Properties"]["ResponseType"]: response["Properties"]
        for response in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }


def _rendered(template: str) -> Any:
    """The body API Gateway would send: its variables substituted as it does (messageString comes quoted)."""
    body = template.replace("$context.error.messageString", json.dumps('Said "no"')).replace(
        "$context.error.responseType", "SOME_TYPE"
    )
    return json.loads(body)


def test_every_method_of_every_path_reaches_the_api_function_so_it_answers_404_405_and_head(
    dev: Synthesized,
) -> None:
    methods = _methods(dev)

    assert {path for _, path in methods} == API_FUNCTION_PATHS
    assert {method for method, _ in methods} == {"ANY"}
    for method in methods.values():
        assert _integrated_function(method) == dev.our_function_ids()["api"]


@pytest.mark.parametrize(
    "path", ["/", "/health", "/openapi.json", "/docs", "/{proxy+}", "/portal", "/portal/session", "/portal/links"]
)
def test_health_the_api_docs_sign_in_and_the_catch_all_are_public(dev: Synthesized, path: str) -> None:
    assert _methods(dev)[("ANY", path)]["AuthorizationType"] == "NONE"


def test_staff_routes_need_iam_at_their_own_resources_so_the_public_catch_all_never_matches_them(
    dev: Synthesized,
) -> None:
    staff = {path: method for (_, path), method in _methods(dev).items() if path.startswith("/staff")}

    # /staff/{proxy+} needs at least one segment: /staff itself has its own IAM method, or it would be /{proxy+}'s.
    assert set(staff) == {"/staff", "/staff/{proxy+}"}
    for method in staff.values():
        assert method["AuthorizationType"] == "AWS_IAM"


def test_api_gateways_own_errors_are_answered_in_the_error_envelope(dev: Synthesized) -> None:
    responses = _gateway_responses(dev)

    assert {"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED", "WAF_FILTERED", "REQUEST_TOO_LARGE"} <= set(responses)
    for response_type, response in responses.items():
        (content_type,) = response["ResponseTemplates"]
        document = _rendered(response["ResponseTemplates"][content_type])
        assert content_type == "application/json"
        assert set(document) == {"error"}, response_type
        assert set(document["error"]) == {"code", "message", "details"}, response_type
        assert document["error"]["code"] and document["error"]["message"], response_type


@pytest.mark.parametrize(
    ("response_type", "status"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", 401),
        ("UNAUTHORIZED", 401),
        ("AUTHORIZER_FAILURE", 500),
        ("AUTHORIZER_CONFIGURATION_ERROR", 500),
        ("ACCESS_DENIED", 403),
        ("WAF_FILTERED", 403),
        ("THROTTLED", 429),
        ("REQUEST_TOO_LARGE", 413),
        ("RESOURCE_NOT_FOUND", 404),
    ],
)
def test_api_gateway_errors_carry_the_same_code_the_function_gives_that_status(
    dev: Synthesized, response_type: str, status: int
) -> None:
    response = _gateway_responses(dev)[response_type]
    document = _rendered(response["ResponseTemplates"]["application/json"])

    assert int(response.get("StatusCode", status)) == status
    assert document["error"]["code"] == HTTP_ERROR_CODES[status]


def test_an_unsigned_staff_call_is_a_401_that_names_the_signature_it_needs(dev: Synthesized) -> None:
    response = _gateway_responses(dev)["MISSING_AUTHENTICATION_TOKEN"]

    assert response["StatusCode"] == "401"
    assert response["ResponseParameters"] == {"gatewayresponse.header.WWW-Authenticate": "'AWS4-HMAC-SHA256'"}


def test_no_gateway_error_echoes_the_signed_request_back(dev: Synthesized) -> None:
    """API Gateway's INVALID_SIGNATURE text quotes the canonical request, session token included."""
    for response_type in ("MISSING_AUTHENTICATION_TOKEN", "INVALID_SIGNATURE", "EXPIRED_TOKEN", "ACCESS_DENIED"):
        template = _gateway_responses(dev)[response_type]["ResponseTemplates"]["application/json"]
        assert "$context" not in template, response_type


def test_api_gateways_own_message_is_kept_where_no_message_of_ours_fits(dev: Synthesized) -> None:
    document = _rendered(_gateway_responses(dev)["DEFAULT_4XX"]["ResponseTemplates"]["application/json"])

    assert document["error"]["message"] == 'Said "no"'
    assert document["error"]["details"] == [{"type": "SOME_TYPE", "message": 'Said "no"'}]


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
