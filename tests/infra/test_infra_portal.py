"""The customer portal as deployed: customer routes behind the session authorizer (never cached), sign-in
public, staff on IAM; sign-in links asked for by address queued for a worker that emails them; the page in a
private bucket behind CloudFront with security headers and the API under the same origin; links in emails opening
that page; the authorizer, the worker and the api function holding exactly what they need."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_cloudfront as cloudfront
from synthesized_app import ITEM_READS, Grants, Synthesized, function_basics, table_grants

from arcollect.local.authorizer import UNAUTHORIZED_MESSAGE, unauthorized
from arcollect.local.portal_page import SECURITY_HEADERS
from shared.api.route_families import PUBLIC_PORTAL_PATHS
from shared.settings import RuntimeSettings, stage_names

SES_ARN = "arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>"
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
API_PATH_PATTERNS = {"/portal/*", "/onboarding/*", "/health", "/openapi.json", "/docs"}
EVERY_METHOD = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
DATA_KEY: Grants = {
    ("Allow", action, "key/data") for action in ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
}
# Email as the sender (its address or its domain) through the reminders' configuration set only.
SENDER: Grants = {
    ("Allow", action, f"{SES_ARN}:{resource}")
    for action in ("ses:SendEmail", "ses:SendRawEmail")
    for resource in ("identity/ar@example.com", "identity/example.com", "configuration-set/arcollect-dev-reminders")
}


# PUT /portal/me starts a validation and stops the one it replaces; GET /onboarding/verify answers the click.
ONBOARDING_STARTS: Grants = {
    ("Allow", "states:StartExecution", "state-machine/onboarding"),
    (
        "Allow",
        "states:StopExecution",
        "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:arcollect-dev-onboarding:*",
    ),
    (
        "Allow",
        "states:SendTaskSuccess",
        "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:arcollect-dev-onboarding",
    ),
}


def _methods(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """API Gateway methods by full path (every method here is ANY)."""
    resources = synth.resources("AWS::ApiGateway::Resource")

    def path_of(reference: dict[str, Any]) -> str:
        if "Fn::GetAtt" in reference:  # the API's RootResourceId
            return ""
        properties = resources[reference["Ref"]]["Properties"]
        return f"{path_of(properties['ParentId'])}/{properties['PathPart']}"

    return {
        path_of(method["Properties"]["ResourceId"]) or "/": method["Properties"]
        for method in synth.resources("AWS::ApiGateway::Method").values()
    }


def _authorizer(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    ((logical_id, authorizer),) = synth.resources("AWS::ApiGateway::Authorizer").items()
    return logical_id, authorizer["Properties"]


def _gateway_response(synth: Synthesized, response_type: str) -> dict[str, Any]:
    (response,) = [
        response["Properties"]
        for response in synth.resources("AWS::ApiGateway::GatewayResponse").values()
        if response["Properties"]["ResponseType"] == response_type
    ]
    return response


def _distribution(synth: Synthesized) -> dict[str, Any]:
    ((_, distribution),) = synth.resources("AWS::CloudFront::Distribution").items()
    return dict(distribution["Properties"]["DistributionConfig"])


def _distribution_id(synth: Synthesized) -> str:
    ((logical_id, _),) = synth.resources("AWS::CloudFront::Distribution").items()
    return logical_id


def _behaviours(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {behaviour["PathPattern"]: behaviour for behaviour in _distribution(synth)["CacheBehaviors"]}


def _origin(synth: Synthesized, behaviour: dict[str, Any]) -> dict[str, Any]:
    (origin,) = [o for o in _distribution(synth)["Origins"] if o["Id"] == behaviour["TargetOriginId"]]
    return dict(origin)


def _headers(synth: Synthesized, behaviour: dict[str, Any]) -> dict[str, Any]:
    policy = synth.resource(behaviour["ResponseHeadersPolicyId"]["Ref"])
    return dict(policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"])


def _page_bucket_id(synth: Synthesized) -> str:
    page = _origin(synth, _distribution(synth)["DefaultCacheBehavior"])
    return str(page["DomainName"]["Fn::GetAtt"][0])


def _role_of(synth: Synthesized, name: str) -> str:
    return synth.role_id(synth.our_functions()[name])


def _variables(synth: Synthesized, name: str) -> dict[str, Any]:
    return dict(synth.our_functions()[name]["Properties"]["Environment"]["Variables"])


def _queue_id(synth: Synthesized, name: str) -> str:
    (logical_id,) = [
        logical_id
        for logical_id, queue in synth.resources("AWS::SQS::Queue").items()
        if queue["Properties"]["QueueName"] == name
    ]
    return logical_id


def _page_url(synth: Synthesized) -> dict[str, Any]:
    return {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [_distribution_id(synth), "DomainName"]}]]}


# --- who may call which route ------------------------------------------------------------------------------


def test_the_session_authorizer_checks_the_authorization_header_with_the_authorizer_function(
    dev: Synthesized,
) -> None:
    _, authorizer = _authorizer(dev)
    function_id = dev.our_function_ids()["portal_authorizer"]

    assert authorizer["Type"] == "TOKEN"
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    assert {"Fn::GetAtt": [function_id, "Arn"]} in authorizer["AuthorizerUri"]["Fn::Join"][1]


def test_no_authorizer_answer_is_cached_so_a_revoked_session_stops_at_its_next_request(stage: Synthesized) -> None:
    _, authorizer = _authorizer(stage)
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0


def test_every_customer_route_is_behind_the_session_authorizer(dev: Synthesized) -> None:
    authorizer_id, _ = _authorizer(dev)
    guarded = {path: method for path, method in _methods(dev).items() if method["AuthorizationType"] == "CUSTOM"}

    assert set(guarded) == {"/portal/{proxy+}"}
    assert guarded["/portal/{proxy+}"]["AuthorizerId"] == {"Ref": authorizer_id}


@pytest.mark.parametrize("path", [*PUBLIC_PORTAL_PATHS, "/portal"])
def test_signing_in_and_asking_for_a_link_need_no_session(dev: Synthesized, path: str) -> None:
    """The more specific resources win over /portal/{proxy+}, so these never reach the authorizer."""
    assert _methods(dev)[path]["AuthorizationType"] == "NONE"


def test_staff_routes_still_need_iam_and_never_the_session_authorizer(dev: Synthesized) -> None:
    staff = {path: method for path, method in _methods(dev).items() if path.startswith("/staff")}

    assert set(staff) == {"/staff", "/staff/{proxy+}"}
    assert {method["AuthorizationType"] for method in staff.values()} == {"AWS_IAM"}
    assert all("AuthorizerId" not in method for method in staff.values())


def test_a_refused_session_is_the_same_401_the_local_gateway_answers(dev: Synthesized) -> None:
    response = _gateway_response(dev, "UNAUTHORIZED")
    local = unauthorized()

    assert response["StatusCode"] == "401" == str(local.status_code)
    assert json.loads(response["ResponseTemplates"]["application/json"]) == json.loads(local.get_data())
    assert json.loads(local.get_data())["error"]["message"] == UNAUTHORIZED_MESSAGE
    assert response["ResponseParameters"] == {
        "gatewayresponse.header.WWW-Authenticate": f"'{local.headers['WWW-Authenticate']}'"
    }


@pytest.mark.parametrize("response_type", ["AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR"])
def test_a_broken_authorizer_is_our_500_in_the_envelope_not_the_callers_fault(
    dev: Synthesized, response_type: str
) -> None:
    response = _gateway_response(dev, response_type)
    document = json.loads(response["ResponseTemplates"]["application/json"])

    assert response["StatusCode"] == "500"
    assert document["error"]["code"] == "internal_error"
    assert document["error"]["message"] and document["error"]["details"] == []


# --- the page and the API under one origin -----------------------------------------------------------------


def test_the_page_bucket_is_private_tls_only_and_logged(stage: Synthesized) -> None:
    bucket_id = _page_bucket_id(stage)
    properties = stage.resource(bucket_id)["Properties"]
    (policy,) = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in stage.resources("AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]

    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert properties["LoggingConfiguration"]["LogFilePrefix"] == "web/"
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)
    assert not any(s["Effect"] == "Allow" and s.get("Principal") in ("*", {"AWS": "*"}) for s in policy)


def test_only_this_distribution_reads_the_page_through_origin_access_control(dev: Synthesized) -> None:
    page = _origin(dev, _distribution(dev)["DefaultCacheBehavior"])
    bucket_id = _page_bucket_id(dev)
    (policy,) = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in dev.resources("AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (cloudfront_reads,) = [s for s in policy if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    ((control_id, control),) = dev.resources("AWS::CloudFront::OriginAccessControl").items()

    assert page["OriginAccessControlId"] == {"Fn::GetAtt": [control_id, "Id"]}
    assert page["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    assert control["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert cloudfront_reads["Action"] == "s3:GetObject"
    source = cloudfront_reads["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Join"][1]
    assert {"Ref": _distribution_id(dev)} in source


def test_the_page_is_web_deployed_into_its_bucket_and_revalidated_on_every_load(dev: Synthesized) -> None:
    (deployment,) = dev.resources("Custom::CDKBucketDeployment").values()
    properties = deployment["Properties"]

    assert properties["DestinationBucketName"] == {"Ref": _page_bucket_id(dev)}
    assert properties["SystemMetadata"] == {"cache-control": "no-cache"}
    assert properties["Prune"] is True  # a file removed from web/ leaves the bucket


def test_the_page_opens_at_the_root_over_https_from_the_cheapest_edge_locations(dev: Synthesized) -> None:
    distribution = _distribution(dev)
    page = distribution["DefaultCacheBehavior"]

    assert distribution["DefaultRootObject"] == "index.html"
    assert distribution["PriceClass"] == "PriceClass_100"
    assert page["ViewerProtocolPolicy"] == "redirect-to-https"
    assert set(page["AllowedMethods"]) == {"GET", "HEAD"}


def test_the_page_carries_hsts_nosniff_no_framing_no_referrer_and_a_self_only_csp(dev: Synthesized) -> None:
    headers = _headers(dev, _distribution(dev)["DefaultCacheBehavior"])

    assert headers["ContentSecurityPolicy"] == {"ContentSecurityPolicy": PAGE_CSP, "Override": True}
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["StrictTransportSecurity"]["Override"] is True
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert headers["ReferrerPolicy"] == {"ReferrerPolicy": "no-referrer", "Override": True}


def test_the_page_gets_the_headers_the_local_gateway_sends_so_a_header_mistake_shows_on_a_laptop(
    dev: Synthesized,
) -> None:
    headers = _headers(dev, _distribution(dev)["DefaultCacheBehavior"])

    assert headers["ContentSecurityPolicy"]["ContentSecurityPolicy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == SECURITY_HEADERS["Referrer-Policy"]
    assert headers["FrameOptions"]["FrameOption"] == SECURITY_HEADERS["X-Frame-Options"]
    assert SECURITY_HEADERS["X-Content-Type-Options"] == "nosniff" and headers["ContentTypeOptions"]["Override"]


def test_the_browser_keeps_no_copy_of_the_page_a_sign_in_link_lands_on(dev: Synthesized) -> None:
    page = _distribution(dev)["DefaultCacheBehavior"]
    policy = dev.resource(page["ResponseHeadersPolicyId"]["Ref"])["Properties"]["ResponseHeadersPolicyConfig"]

    assert policy["CustomHeadersConfig"]["Items"] == [
        {"Header": "Cache-Control", "Value": "no-store", "Override": True}
    ]


def test_api_answers_through_cloudfront_carry_the_same_headers_but_a_csp_swagger_ui_can_live_with(
    dev: Synthesized,
) -> None:
    page = _headers(dev, _distribution(dev)["DefaultCacheBehavior"])
    for pattern, behaviour in _behaviours(dev).items():
        api = _headers(dev, behaviour)
        assert {name: value for name, value in api.items() if name != "ContentSecurityPolicy"} == {
            name: value for name, value in page.items() if name != "ContentSecurityPolicy"
        }, pattern
        assert "frame-ancestors 'none'" in api["ContentSecurityPolicy"]["ContentSecurityPolicy"], pattern


def test_the_public_and_customer_api_paths_share_the_pages_origin_and_staff_paths_do_not(dev: Synthesized) -> None:
    patterns = set(_behaviours(dev))

    assert patterns == API_PATH_PATTERNS
    assert not any(pattern.startswith("/staff") for pattern in patterns)


def test_api_paths_reach_the_stage_uncached_with_every_method_and_the_callers_headers(dev: Synthesized) -> None:
    (rest_api_id,) = dev.resources("AWS::ApiGateway::RestApi")
    for pattern, behaviour in _behaviours(dev).items():
        origin = _origin(dev, behaviour)
        assert {"Ref": rest_api_id} in origin["DomainName"]["Fn::Join"][1], pattern
        assert origin["OriginPath"] == "/dev", pattern
        assert origin["CustomOriginConfig"] == {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"]}
        assert behaviour["CachePolicyId"] == cloudfront.CachePolicy.CACHING_DISABLED.cache_policy_id, pattern
        # Authorization included: allowed with caching disabled; the Host stays API Gateway's.
        assert (
            behaviour["OriginRequestPolicyId"]
            == cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.origin_request_policy_id
        ), pattern
        assert set(behaviour["AllowedMethods"]) == EVERY_METHOD, pattern
        assert behaviour["ViewerProtocolPolicy"] == "https-only", pattern  # a token never goes out over http


def test_links_in_reminders_sign_in_emails_and_staff_links_open_the_page(dev: Synthesized) -> None:
    for name in ("api", "portal_link_requests", "dunning_dispatch", "dunning_send_retry", "email_feedback"):
        assert _variables(dev, name)["ARCOLLECT_PORTAL_URL"] == _page_url(dev), name
    assert dev.template["Outputs"]["PortalUrl"]["Value"] == _page_url(dev)


# --- sign-in links asked for by address -------------------------------------------------------------------


def test_link_requests_reach_the_worker_ten_at_a_time_and_dead_letter_after_three_attempts_with_an_alarm(
    dev: Synthesized,
) -> None:
    names = stage_names("dev")
    queue_id = _queue_id(dev, names.link_request_queue)
    dead_letter_id = _queue_id(dev, names.link_request_dead_letter_queue)
    queue = dev.resource(queue_id)["Properties"]
    (mapping,) = [
        m["Properties"]
        for m in dev.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    alarms = [
        alarm["Properties"]
        for alarm in dev.resources("AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_id, "QueueName"]}}
        in alarm["Properties"].get("Dimensions", [])
    ]

    assert mapping["FunctionName"] == {"Ref": dev.our_function_ids()["portal_link_requests"]}
    assert (mapping["BatchSize"], mapping["FunctionResponseTypes"]) == (10, ["ReportBatchItemFailures"])
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dead_letter_id, "Arn"]},
        "maxReceiveCount": 3,
    }
    assert queue["VisibilityTimeout"] >= 6 * dev.our_functions()["portal_link_requests"]["Properties"]["Timeout"]
    assert queue["SqsManagedSseEnabled"] is True
    assert len(alarms) == 1 and alarms[0]["AlarmActions"]


def test_the_api_queues_link_requests_and_the_worker_emails_them_as_reminders_are_sent(dev: Synthesized) -> None:
    api, worker, dispatch = (_variables(dev, name) for name in ("api", "portal_link_requests", "dunning_dispatch"))

    assert dev.resource_label(api["ARCOLLECT_LINK_REQUEST_QUEUE_URL"]) == "queue/link-requests"
    for name in ("ARCOLLECT_SENDER_EMAIL", "ARCOLLECT_SELLER_NAME", "ARCOLLECT_SES_CONFIGURATION_SET"):
        assert worker[name] == dispatch[name], name
    settings = RuntimeSettings.from_environment({name: str(value) for name, value in worker.items()})
    assert settings.sender_email == "ar@example.com"


def test_the_worker_may_look_addresses_up_read_the_link_key_and_email_as_the_sender_only(dev: Synthesized) -> None:
    lookup = {
        ("Allow", action, resource)
        for action in ITEM_READS
        for resource in ("table/customers", "table/customers/index/ap_email_index")
    }

    assert dev.grants(_role_of(dev, "portal_link_requests")) == (
        function_basics("portal_link_requests")
        | lookup
        | DATA_KEY
        | {("Allow", "secretsmanager:GetSecretValue", "secret/link-signing")}
        | SENDER
        | {
            ("Allow", action, "queue/link-requests")
            for action in (
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
            )
        }
    )


# --- what each function is told and may do -----------------------------------------------------------------


def test_the_authorizer_and_the_api_are_told_which_secret_signs_links(dev: Synthesized) -> None:
    for name in ("portal_authorizer", "api"):
        assert dev.resource_label(_variables(dev, name)["ARCOLLECT_LINK_SECRET_ID"]) == "secret/link-signing", name


def test_the_authorizer_may_only_read_sessions_and_customers_by_key_and_the_link_key(dev: Synthesized) -> None:
    by_key_only = {("Allow", action, f"table/{table}") for action in ITEM_READS for table in ("sessions", "customers")}

    assert dev.grants(_role_of(dev, "portal_authorizer")) == (
        function_basics("portal_authorizer")
        | by_key_only
        | DATA_KEY
        | {("Allow", "secretsmanager:GetSecretValue", "secret/link-signing")}
    )


def test_the_api_holds_exactly_what_the_portal_and_staff_routes_take(dev: Synthesized) -> None:
    expected: Grants = (
        function_basics("api")
        # Sessions, the sign-in limit, master data and its TIN claim, notes/disputes/promises, timeline, tasks,
        # and new policy versions from staff.
        | table_grants(
            ["sessions", "rate_limits", "customers", "tin_claims", "invoices", "activities", "tasks", "policy_sets"],
            write=True,
        )
        | table_grants(["email_verifications"], write=True)  # GET /onboarding/verify uses the token up
        | table_grants(
            ["payments", "credit_notes", "payment_attempts", "dunning_runs", "dunning_batches", "suppressions"],
            write=False,
        )
        | {("Allow", "dynamodb:Scan", "table/customers")}  # the staff customer list pages through them all
        | {("Allow", "kms:GenerateDataKey", "key/tin"), ("Allow", "kms:GenerateMac", "key/tin-mac")}
        | {("Allow", "secretsmanager:GetSecretValue", "secret/link-signing")}
        | {("Allow", "sqs:SendMessage", "queue/link-requests")}
        | {("Allow", "states:StartExecution", "state-machine/dunning")}
        | ONBOARDING_STARTS
        # Staff invitations go out through the sweep (the API holds no SES grant), its unqualified ARN only.
        | {("Allow", "lambda:InvokeFunction", "function/onboarding-sweep")}
    )

    assert dev.grants(_role_of(dev, "api")) == expected


def test_the_api_can_start_the_dunning_run_and_onboarding_validations_and_nothing_else_of_step_functions(
    dev: Synthesized,
) -> None:
    states = {grant for grant in dev.grants(_role_of(dev, "api")) if grant[1].startswith("states:")}
    assert states == {("Allow", "states:StartExecution", "state-machine/dunning")} | ONBOARDING_STARTS


def test_pdf_answers_reach_clients_as_bytes(dev: Synthesized) -> None:
    [api] = dev.resources("AWS::ApiGateway::RestApi").values()

    assert api["Properties"]["BinaryMediaTypes"] == ["application/pdf"]
