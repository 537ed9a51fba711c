"""The REST API: API Gateway (throttled, access-logged, traced, behind WAF) proxying to the api function.

Route authorisation lives here, per route family:
- public (`/health`, later `/portal/session`, `/portal/links`, `/onboarding/verify`, `/webhooks/stripe`):
  no API Gateway auth; the handler checks what each route needs (link token, Stripe signature).
- customer (`/portal/...` with a session token): checked by the handler, scoped to that one customer.
- staff (`/staff/...`): AWS IAM (SigV4) at API Gateway, so only principals allowed `execute-api:Invoke`
  on the staff paths reach the function.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.constructs.lambda_function import FunctionDefaults, PythonFunction
from infra.nag import acknowledge


class Api(Construct):
    """One REST API with a single Lambda proxy integration; routes are added with `add_*_route`."""

    def __init__(self, scope: Construct, construct_id: str, *, defaults: FunctionDefaults) -> None:
        super().__init__(scope, construct_id)
        config = defaults.config
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

        self.add_public_route("GET", "health")
        self.add_staff_route("ANY", "staff/{proxy+}")
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

    def add_public_route(self, method: str, path: str) -> apigateway.Method:
        """A route anyone may call; the handler enforces whatever the route needs."""
        route = self.rest_api.root.resource_for_path(path).add_method(
            method,
            self._integration,
            authorization_type=apigateway.AuthorizationType.NONE,
            request_validator=self.request_validator,
        )
        reason = (
            f"{method} /{path} is public by the API contract (INTERFACES.md); the handler checks whatever the "
            "route needs (a link token, a Stripe signature, or nothing for /health)."
        )
        acknowledge(route, "AwsSolutions-APIG4", reason=reason)
        acknowledge(route, "AwsSolutions-COG4", reason=reason)
        return route

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
