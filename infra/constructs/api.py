"""The REST API: API Gateway (throttled, access-logged, traced, behind WAF) proxying to the api function.

Route authorisation lives here, per route family (shared/api/route_families.py, which the local gateway reads
too):
- public (`/health`, `/openapi.json`, `/docs`, `/portal/session`, `/portal/links`, later `/onboarding/verify`,
  `/webhooks/stripe`): no API Gateway auth; the handler checks what each route needs (link token, Stripe
  signature).
- customer (`/portal/{proxy+}` but the public portal paths): the portal's TOKEN authorizer (a live session
  token) at API Gateway; the function reads the customer id from the authorizer's context only.
- staff (`/staff` and `/staff/...`): AWS IAM (SigV4) at API Gateway, so only principals allowed
  `execute-api:Invoke` on the staff paths reach the function.

Routing itself is the function's: every other path and method reaches it through a public `ANY /{proxy+}`
(and `ANY /`), so an unknown route is its 404, a wrong method its 405 with `Allow`, HEAD its GET without a
body, exactly as under `arcollect local`. API Gateway picks the most specific resource, so `/staff/...`
never falls through to the public catch-all. What API Gateway answers itself (throttling, WAF, a missing
signature, a 10 MB body) is put in the same error envelope by the gateway responses below.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.constructs.dunning import Dunning, LinkSigningSecret
from infra.constructs.lambda_function import FunctionDefaults, PythonFunction
from infra.constructs.onboarding import Onboarding
from infra.constructs.portal import PortalLinkRequests
from infra.constructs.storage import Storage
from infra.nag import acknowledge
from shared.api.route_families import CUSTOMER_PREFIX, PUBLIC_PORTAL_PATHS, STAFF_PREFIX

# API Gateway's own text for the response (already a quoted JSON string) and the response type's name.
_GATEWAY_MESSAGE = "$context.error.messageString"
_GATEWAY_DETAILS = '[{"type":"$context.error.responseType","message":$context.error.messageString}]'


@dataclass(frozen=True)
class GatewayResponse:
    """One of API Gateway's own error answers, rewritten as `{"error": {"code", "message", "details"}}`.

    Gateway response templates are plain variable substitution (no VTL), so the code is fixed per response
    type. Messages are ours where API Gateway's could echo the request back: INVALID_SIGNATURE's text quotes
    the canonical request, which can hold a session token.
    """

    type_name: str
    code: str
    message: str | None = None  # None: API Gateway's own message, with the response type in the details
    status: int | None = None  # None: API Gateway's status for this type
    headers: Mapping[str, str] = field(default_factory=dict)

    def template(self) -> str:
        if self.message is None:
            message, details = _GATEWAY_MESSAGE, _GATEWAY_DETAILS
        else:
            message, details = json.dumps(self.message), "[]"
        return f'{{"error":{{"code":{json.dumps(self.code)},"message":{message},"details":{details}}}}}'


# As the API function and the local gateway answer a customer route without a live session.
SESSION_REFUSED = "Sign in again: the session token is missing, expired or not valid."
SESSION_CHALLENGE = 'Bearer realm="arcollect-portal"'
AUTHORIZER_BROKEN = "Something went wrong on our side while checking your session; try again shortly."

# Codes as in shared/api/errors.py's HTTP_ERROR_CODES, so a client branches the same way whoever answered.
GATEWAY_RESPONSES: tuple[GatewayResponse, ...] = (
    # Every path and method reaches a method, so only an unsigned call to an IAM-authorised staff route is
    # left: credentials are missing, which HTTP calls 401 (API Gateway says 403).
    GatewayResponse(
        "MISSING_AUTHENTICATION_TOKEN",
        "unauthorized",
        "This route needs a request signed with AWS Signature Version 4 by an IAM principal allowed to call it.",
        status=401,
        headers={"WWW-Authenticate": "AWS4-HMAC-SHA256"},
    ),
    GatewayResponse("INVALID_SIGNATURE", "forbidden", "The request's AWS signature does not match the request."),
    GatewayResponse("EXPIRED_TOKEN", "forbidden", "The AWS credentials that signed the request have expired."),
    GatewayResponse("ACCESS_DENIED", "forbidden", "This IAM principal may not call this route."),
    # The portal authorizer refused the session token, or there was none (API Gateway does not call it then).
    GatewayResponse(
        "UNAUTHORIZED", "unauthorized", SESSION_REFUSED, status=401, headers={"WWW-Authenticate": SESSION_CHALLENGE}
    ),
    # The authorizer failed or answered nonsense: our fault, never the caller's.
    GatewayResponse("AUTHORIZER_FAILURE", "internal_error", AUTHORIZER_BROKEN, status=500),
    GatewayResponse("AUTHORIZER_CONFIGURATION_ERROR", "internal_error", AUTHORIZER_BROKEN, status=500),
    GatewayResponse("WAF_FILTERED", "forbidden", "The request was refused by the API's firewall."),
    GatewayResponse("THROTTLED", "too_many_requests", "Too many requests: wait a moment and try again."),
    GatewayResponse("QUOTA_EXCEEDED", "too_many_requests", "Too many requests: wait a moment and try again."),
    GatewayResponse("REQUEST_TOO_LARGE", "payload_too_large", "The request is larger than the API accepts."),
    GatewayResponse("RESOURCE_NOT_FOUND", "not_found", "Nothing is served here."),
    GatewayResponse("UNSUPPORTED_MEDIA_TYPE", "unsupported_media_type"),
    GatewayResponse("BAD_REQUEST_BODY", "bad_request"),
    GatewayResponse("BAD_REQUEST_PARAMETERS", "bad_request"),
    GatewayResponse("INTEGRATION_TIMEOUT", "gateway_timeout", "The API took too long to answer; try again."),
    # Whatever else API Gateway answers itself, now or in types it adds later.
    GatewayResponse("DEFAULT_4XX", "bad_request"),
    GatewayResponse("DEFAULT_5XX", "internal_error", "Something went wrong on our side; try again shortly."),
)


# What the portal routes write: sessions and sign-in rate limits, master data (and the TIN claim that goes with
# it), notes, disputes and promises on invoices, the timeline and the tasks a dispute opens.
PORTAL_WRITES = ("sessions", "rate_limits", "customers", "tin_claims", "invoices", "activities", "tasks")
# Staff apply new policy versions (PUT /staff/policies).
STAFF_WRITES = ("policy_sets",)
# GET /onboarding/verify marks the verification token used (the customer and the timeline are portal writes).
ONBOARDING_WRITES = ("email_verifications",)
# Read for invoice details and the timeline (payments, credits, payment attempts), the staff run reports and
# the suppression list (POST /staff/checks/email).
ROUTE_READS = ("payments", "credit_notes", "payment_attempts", "dunning_runs", "dunning_batches", "suppressions")


class Api(Construct):
    """One REST API with a single Lambda proxy integration; routes are added with `add_*_route`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        session_authorizer: apigateway.IAuthorizer,
    ) -> None:
        """`session_authorizer`: the portal's TOKEN authorizer, in front of every customer route."""
        super().__init__(scope, construct_id)
        self._session_authorizer = session_authorizer
        config = defaults.config
        self._seller_name = config.seller_name
        self.handler = PythonFunction(
            self,
            "Handler",
            name="api",
            description="The arcollect REST API (portal, staff and public routes)",
            defaults=defaults,
        )
        access_logs = defaults.observability.log_group(
            self, "AccessLogs", log_group_name=f"/aws/apigateway/{config.name_prefix}-api/access"
        )
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{config.name_prefix}-api",
            description="arcollect portal, staff and webhook API",
            # The function answers PDFs base64-encoded; API Gateway sends them as bytes to a client that asks for
            # application/pdf (the portal page does). JSON bodies are not affected.
            binary_media_types=["application/pdf"],
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Execution logs need the account-level CloudWatch role that API Gateway pushes logs with. It is
            # one setting per account and region, so it outlives this stack: other APIs may rely on it.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=config.stage,
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                # Request bodies carry TINs and tokens: they never go to the execution log.
                data_trace_enabled=False,
            ),
        )
        self.request_validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        self._integration = apigateway.LambdaIntegration(self.handler.function, proxy=True, allow_test_invoke=False)

        # ANY rather than GET: the function, not API Gateway, answers HEAD and the 405 for other methods.
        for path in ("health", "openapi.json", "docs"):
            self.add_public_route("ANY", path)
        catch_all = (
            "it carries every path the function routes itself, so unknown routes and wrong methods get the "
            "contract's 404 and 405 from the handler; each route checks what it needs, and /staff paths match "
            "the more specific IAM-authorised resources instead."
        )
        self.add_public_route("ANY", "", reason=f"ANY / is public by design: {catch_all}")
        self.add_public_route("ANY", "{proxy+}", reason=f"ANY /{{proxy+}} is public by design: {catch_all}")
        portal = CUSTOMER_PREFIX.strip("/")
        # /portal itself is no customer route (nor in the local gateway): without a method of its own it would
        # be API Gateway's "missing authentication token" rather than the function's 404.
        self.add_public_route(
            "ANY",
            portal,
            reason=f"ANY /{portal} is public by design: no route answers the bare path, so the function's 404 "
            "comes back exactly as under arcollect local; every customer route is below it, behind the authorizer.",
        )
        for path in PUBLIC_PORTAL_PATHS:
            self.add_public_route("ANY", path.strip("/"))
        self.add_customer_route("ANY", f"{portal}/{{proxy+}}")
        staff = STAFF_PREFIX.strip("/")
        self.add_staff_route("ANY", staff)
        self.add_staff_route("ANY", f"{staff}/{{proxy+}}")
        self._add_gateway_responses()
        self.web_acl = self._web_acl(config.name_prefix, config.waf_requests_per_ip)

        acknowledge(
            self.rest_api.node.find_child("CloudWatchRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            reason="API Gateway's account-level logging role needs exactly this AWS-maintained policy to "
            "write execution logs; it is assumable by API Gateway only.",
        )

    @property
    def url(self) -> str:
        return self.rest_api.url

    def add_public_route(self, method: str, path: str, *, reason: str | None = None) -> apigateway.Method:
        """A route anyone may call; the handler enforces whatever the route needs. `path` "" is the root."""
        route = self.rest_api.root.resource_for_path(path).add_method(
            method,
            self._integration,
            authorization_type=apigateway.AuthorizationType.NONE,
            request_validator=self.request_validator,
        )
        reason = reason or (
            f"{method} /{path} is public by the API contract (INTERFACES.md); the handler checks whatever the "
            "route needs (a link token, a Stripe signature, or nothing for /health and the API docs)."
        )
        acknowledge(route, "AwsSolutions-APIG4", reason=reason)
        acknowledge(route, "AwsSolutions-COG4", reason=reason)
        return route

    def add_customer_route(self, method: str, path: str) -> apigateway.Method:
        """A route for a signed-in customer: the session authorizer runs before the function, which acts for
        the customer it names and no other."""
        route = self.rest_api.root.resource_for_path(path).add_method(
            method,
            self._integration,
            authorization_type=apigateway.AuthorizationType.CUSTOM,
            authorizer=self._session_authorizer,
            request_validator=self.request_validator,
        )
        acknowledge(
            route,
            "AwsSolutions-COG4",
            reason=f"{method} /{path} is a customer route: customers sign in with a signed link from their email "
            "and call with a session token that the portal's Lambda TOKEN authorizer checks; there is no Cognito "
            "user pool.",
        )
        return route

    def grant_routes(
        self,
        *,
        storage: Storage,
        link_signing: LinkSigningSecret,
        link_requests: PortalLinkRequests,
        dunning: Dunning,
        onboarding: Onboarding,
        portal_url: str,
    ) -> None:
        """What the portal and staff routes take: their tables, the link key (sessions, staff links to the
        page at `portal_url`), TIN protection (PUT /portal/me), the link request queue (POST /portal/links),
        starting a dunning run (POST /staff/dunning/runs), starting an onboarding validation (PUT /portal/me) and
        answering its verification click (GET /onboarding/verify). PDFs are made in memory, under the seller's
        name."""
        role = self.handler.role
        environment = {
            "ARCOLLECT_SELLER_NAME": self._seller_name,
            "ARCOLLECT_PORTAL_URL": portal_url,
            "ARCOLLECT_LINK_SECRET_ID": link_signing.secret.secret_arn,
            **link_requests.environment,
            **onboarding.environment,
            **onboarding.invite_environment,
        }
        for name, value in environment.items():
            self.handler.function.add_environment(name, value)
        storage.grant_table_data(role, PORTAL_WRITES + STAFF_WRITES + ONBOARDING_WRITES, write=True)
        storage.grant_table_data(role, ROUTE_READS, write=False)
        storage.grant_scan(role, "customers")  # GET /staff/customers pages through every customer
        storage.grant_tin_protection(role)
        link_signing.grant_read(role)
        link_requests.grant_enqueue(role)
        dunning.state_machine.grant_start_execution(role)
        onboarding.grant_start(role)
        onboarding.grant_task_response(role)
        onboarding.grant_invite(role)  # POST /staff/customers/{id}/onboarding/invitations

    def add_staff_route(self, method: str, path: str) -> apigateway.Method:
        """A route for the AR team: IAM-authorised (SigV4) before the request reaches the function."""
        route = self.rest_api.root.resource_for_path(path).add_method(
            method,
            self._integration,
            authorization_type=apigateway.AuthorizationType.IAM,
            request_validator=self.request_validator,
        )
        acknowledge(
            route,
            "AwsSolutions-COG4",
            reason=f"{method} /{path} is a staff route: staff are IAM principals and sign requests with SigV4 "
            "(AWS_IAM authorisation); arcollect has no Cognito user pool.",
        )
        return route

    def _add_gateway_responses(self) -> None:
        """Errors API Gateway answers without calling the function, in the function's error envelope."""
        for response in GATEWAY_RESPONSES:
            self.rest_api.add_gateway_response(
                response.type_name.title().replace("_", ""),
                type=apigateway.ResponseType.of(response.type_name),
                status_code=str(response.status) if response.status else None,
                response_headers={name: f"'{value}'" for name, value in response.headers.items()},
                templates={"application/json": response.template()},
            )

    def _web_acl(self, name_prefix: str, requests_per_ip: int) -> wafv2.CfnWebACL:
        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
            )

        def managed_rule_group(name: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name
                    )
                ),
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                visibility_config=visibility(name),
            )

        rate_limit = wafv2.CfnWebACL.RuleProperty(
            name="RequestsPerIp",
            priority=2,
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    limit=requests_per_ip, aggregate_key_type="IP", evaluation_window_sec=300
                )
            ),
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            visibility_config=visibility("RequestsPerIp"),
        )
        web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{name_prefix}-api",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"{name_prefix}-api"),
            rules=[
                managed_rule_group("AWSManagedRulesCommonRuleSet", 0),
                managed_rule_group("AWSManagedRulesKnownBadInputsRuleSet", 1),
                rate_limit,
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=web_acl.attr_arn,
        )
        return web_acl
