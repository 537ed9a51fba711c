"""The customer portal as deployed: the TOKEN authorizer that turns a session token into the customer the API
function acts for; the queue and worker that email the sign-in links asked for by address (`POST /portal/links`
answers at once, the same whether the address is known or not); and the web page (web/) served from a private
bucket behind CloudFront with the API's public and customer routes under the same origin, so the page calls
`/portal/...` on its own host and its Content-Security-Policy can stay `'self'`.

Staff routes stay off CloudFront: their SigV4 signature covers the API's own host name.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct

from infra.bundling import REPO_ROOT
from infra.constructs.dunning import LinkSigningSecret
from infra.constructs.lambda_function import FunctionDefaults, PythonFunction
from infra.constructs.messaging import Messaging
from infra.constructs.queues import dead_letter_queue, work_queue
from infra.constructs.storage import Storage
from infra.nag import acknowledge, arn_finding
from shared.api.route_families import CUSTOMER_PREFIX

WEB_ROOT = REPO_ROOT / "web"
# What the authorizer reads: the session (revoked? whose?) and the customer (access revoked since?).
AUTHORIZER_READS = ("sessions", "customers")
# The API paths CloudFront forwards; everything else is the page. Staff routes are deliberately absent.
API_PATH_PATTERNS = (f"{CUSTOMER_PREFIX}*", "/onboarding/*", "/health", "/openapi.json", "/docs")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# Swagger UI at /docs inlines its script and styles, so API answers carry only the framing rules.
API_CONTENT_SECURITY_POLICY = "frame-ancestors 'none'; base-uri 'none'"
HSTS_MAX_AGE = Duration.days(365)
# The link email goes out like a reminder: same sender, seller and configuration set; the link opens the page.
LINK_EMAIL_SETTINGS = (
    "ARCOLLECT_SENDER_EMAIL",
    "ARCOLLECT_SELLER_NAME",
    "ARCOLLECT_PORTAL_URL",
    "ARCOLLECT_LINK_SECRET_ID",
    "ARCOLLECT_SES_CONFIGURATION_SET",
)
LINK_REQUEST_TIMEOUT = Duration.seconds(30)
# A message stays hidden for longer than every retry Lambda may make on it (AWS: six times the timeout).
LINK_REQUEST_VISIBILITY = Duration.minutes(3)
# A link that could not be sent within a day is better asked for again than sent late.
LINK_REQUEST_RETENTION = Duration.days(1)
LINK_REQUEST_ATTEMPTS = 3
LINK_REQUEST_BATCH = 10


class PortalAuthorizer(Construct):
    """The `portal_authorizer` function as API Gateway's TOKEN authorizer on the customer routes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        storage: Storage,
        link_signing: LinkSigningSecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = PythonFunction(
            self,
            "Handler",
            name="portal_authorizer",
            description="Checks a portal session token and names the customer it acts for",
            defaults=defaults,
            timeout=Duration.seconds(10),
            environment={"ARCOLLECT_LINK_SECRET_ID": link_signing.secret.secret_arn},
        )
        for table_key in AUTHORIZER_READS:  # by key only: no index of either table
            storage.grant_index_reads(self.handler.role, table_key, indexes=[])
        link_signing.grant_read(self.handler.role)
        self.token_authorizer = apigateway.TokenAuthorizer(
            self,
            "TokenAuthorizer",
            handler=self.handler.function,
            authorizer_name=f"{defaults.config.name_prefix}-portal-session",
            identity_source=apigateway.IdentitySource.header("Authorization"),
            # No caching: a signed-out or revoked session must stop at its next request, not up to a TTL later
            # (the policy allows every customer route, so a cached answer would serve them all).
            results_cache_ttl=Duration.seconds(0),
        )


class PortalLinkRequests(Construct):
    """`POST /portal/links` puts the address on a queue; the `portal_link_requests` worker looks it up and emails
    a link to a contact that may have one. A send that fails every attempt waits in a dead-letter queue with an
    alarm."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        storage: Storage,
        messaging: Messaging,
        link_signing: LinkSigningSecret,
    ) -> None:
        super().__init__(scope, construct_id)
        config = defaults.config
        names = config.names
        self.dead_letter_queue = dead_letter_queue(
            self,
            "DeadLetterQueue",
            names.link_request_dead_letter_queue,
            of="sign-in link request",
            removal_policy=config.removal_policy,
        )
        self.queue = work_queue(
            self,
            "Queue",
            names.link_request_queue,
            visibility=LINK_REQUEST_VISIBILITY,
            retention=LINK_REQUEST_RETENTION,
            dead_letters=self.dead_letter_queue,
            attempts=LINK_REQUEST_ATTEMPTS,
            removal_policy=config.removal_policy,
        )
        defaults.observability.alarm_on_dead_letters(self.dead_letter_queue, name="LinkRequests")
        self.worker = PythonFunction(
            self,
            "Worker",
            name="portal_link_requests",
            description="Emails the sign-in links customers asked for by address",
            defaults=defaults,
            timeout=LINK_REQUEST_TIMEOUT,
            environment={name: messaging.sending_environment[name] for name in LINK_EMAIL_SETTINGS},
        )
        self.worker.function.add_event_source(
            event_sources.SqsEventSource(self.queue, batch_size=LINK_REQUEST_BATCH, report_batch_item_failures=True)
        )
        # The address is looked up on the AP-email index and the customer read by key: nothing is written.
        storage.grant_index_reads(self.worker.role, "customers", indexes=["ap_email_index"])
        link_signing.grant_read(self.worker.role)
        messaging.grant_email(self.worker.role)

    @property
    def environment(self) -> dict[str, str]:
        """What the API needs to queue a request."""
        return {"ARCOLLECT_LINK_REQUEST_QUEUE_URL": self.queue.queue_url}

    def grant_enqueue(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(grantee=grantee, actions=["sqs:SendMessage"], resource_arns=[self.queue.queue_arn])


class PortalWeb(Construct):
    """web/ in a private bucket read by CloudFront alone (Origin Access Control), with the API's public and
    customer routes as further behaviours of the same distribution, never cached."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        storage: Storage,
        api: apigateway.RestApi,
    ) -> None:
        super().__init__(scope, construct_id)
        config = defaults.config
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            # The page is public by nature; S3-managed keys let CloudFront read it without a key policy.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=storage.access_logs_bucket,
            server_access_logs_prefix="web/",
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30))],
            removal_policy=config.removal_policy,
            auto_delete_objects=not config.is_production,
        )
        # The page is where a sign-in link lands (`/?link=...`): the browser keeps no copy under that address.
        page_headers = self._headers_policy(
            "PageHeaders", CONTENT_SECURITY_POLICY, "the portal page", custom={"Cache-Control": "no-store"}
        )
        # The API's own Cache-Control (no-store on PDFs, for one) passes through untouched.
        api_headers = self._headers_policy("ApiHeaders", API_CONTENT_SECURITY_POLICY, "the portal API")
        api_behaviour = cloudfront.BehaviorOptions(
            origin=self._api_origin(api, config.stage),
            # Bearer tokens travel only over TLS: an http:// call is refused, not redirected after it leaked.
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            # With caching disabled this forwards Authorization too; API Gateway needs its own Host header.
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=api_headers,
            # Small JSON answers gain little, and compressing a session token next to request text invites BREACH.
            compress=False,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.name_prefix} customer portal",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=page_headers,
                compress=True,
            ),
            additional_behaviors={pattern: api_behaviour for pattern in API_PATH_PATTERNS},
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        )
        self.deployment = s3_deployment.BucketDeployment(
            self,
            "Page",
            destination_bucket=self.bucket,
            sources=[s3_deployment.Source.asset(str(WEB_ROOT))],
            # CloudFront revalidates (keeping a copy a second at most): a deploy shows at once without an
            # invalidation, which would need cloudfront:CreateInvalidation on every distribution ("*").
            cache_control=[s3_deployment.CacheControl.no_cache()],
            log_group=defaults.observability.log_group(
                self, "PageDeploymentLogs", log_group_name=f"/aws/lambda/{config.name_prefix}-portal-page-deployment"
            ),
        )
        self._acknowledge()
        self._acknowledge_page_deployment()

    @property
    def url(self) -> str:
        """Where the page is, and so where links in emails point (`{url}/?link=...`)."""
        return f"https://{self.distribution.distribution_domain_name}"

    def _api_origin(self, api: apigateway.RestApi, stage_name: str) -> origins.HttpOrigin:
        """The REST API's stage, addressed by the API's id and the stage's name rather than by `api.url` as
        `RestApiOrigin` does: that URL refers to the deployed stage, which depends on the api function, whose
        settings name this distribution (ARCOLLECT_PORTAL_URL), and CloudFormation refuses the cycle."""
        stack = Stack.of(self)
        return origins.HttpOrigin(
            f"{api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}",
            origin_path=f"/{stage_name}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
        )

    def _headers_policy(
        self, construct_id: str, content_security_policy: str, what: str, *, custom: Mapping[str, str] | None = None
    ) -> cloudfront.ResponseHeadersPolicy:
        custom_headers = [
            cloudfront.ResponseCustomHeader(header=name, value=value, override=True)
            for name, value in (custom or {}).items()
        ]
        return cloudfront.ResponseHeadersPolicy(
            self,
            construct_id,
            comment=f"Security headers of {what}",
            custom_headers_behavior=(
                cloudfront.ResponseCustomHeadersBehavior(custom_headers=custom_headers) if custom_headers else None
            ),
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy, override=True
                ),
            ),
        )

    def _acknowledge_page_deployment(self) -> None:
        """CDK's deployment function (one per stack, at its top) runs only while CloudFormation deploys: it
        copies web/ from the CDK asset bucket into the page bucket."""
        (handler,) = [
            child for child in Stack.of(self).node.children if child.node.id.startswith("Custom::CDKBucketDeployment")
        ]
        copy = (
            "CDK's page-deployment function copies web/ from the CDK asset bucket into the page bucket at deploy time"
        )
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            reason=f"{copy}; the AWS basic execution policy lets it write its own logs and nothing else.",
        )
        findings = [
            *(
                f"Action::{action}"
                for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*")
            ),
            "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
            f"Resource::{arn_finding(self.bucket)}/*",
        ]
        for finding in findings:
            acknowledge(
                handler,
                f"AwsSolutions-IAM5[{finding}]",
                reason=f"{copy}: CDK's own grants, read on that asset bucket and read-write-delete on the page "
                "bucket alone (the sync removes files no longer in web/).",
            )
        acknowledge(
            handler,
            "AwsSolutions-L1",
            reason="The runtime of CDK's page-deployment function is CDK's choice and moves with aws-cdk-lib; it "
            "only runs during deployments, never on a request.",
        )

    def _acknowledge(self) -> None:
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            reason="Customers of any seller may be anywhere in the world; every route checks a signed link or "
            "session token, so no country is refused.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            reason="A CloudFront web ACL must live in us-east-1 while this stack is regional; the API behind "
            "CloudFront keeps its regional WAF (managed rules and the per-IP rate limit) and the page is static.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR3",
            reason="CloudFront standard logs record every query string, and a portal link carries its sign-in "
            "token in the query (/?link=...): logging them would keep working credentials. API calls are "
            "logged by API Gateway without queries, and the bucket's server access logs see no query.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            reason="The distribution answers on its default *.cloudfront.net certificate, whose TLS policy "
            "CloudFront fixes; a custom domain (portal_url) brings its own ACM certificate and TLS 1.2 policy.",
        )
