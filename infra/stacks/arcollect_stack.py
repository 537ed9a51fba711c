"""One arcollect stage in one stack: storage, then the flows that use it."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.api import Api
from infra.constructs.dunning import Dunning, LinkSigningSecret
from infra.constructs.lambda_function import FunctionDefaults, dependencies_layer
from infra.constructs.ledger_ingest import LedgerIngest
from infra.constructs.messaging import Messaging
from infra.constructs.observability import Observability
from infra.constructs.onboarding import Onboarding
from infra.constructs.portal import PortalAuthorizer, PortalLinkRequests, PortalWeb
from infra.constructs.storage import Storage
from infra.nag import acknowledge_cdk_helper_functions


class ArcollectStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"arcollect accounts-receivable collections ({config.stage})",
            termination_protection=config.is_production,
        )
        # CDK adds DependsOn next to the GetAtt/Ref that already orders resources (cfn-lint W3005):
        # redundant, harmless, and not ours to change.
        self.template_options.metadata = {"cfn-lint": {"config": {"ignore_checks": ["W3005"]}}}
        observability = Observability(self, "Observability", config=config)
        storage = Storage(self, "Storage", config=config)
        defaults = FunctionDefaults(
            config=config,
            observability=observability,
            dependencies=dependencies_layer(self, "Dependencies", config=config),
            environment=runtime_settings_environment(self, config, storage),
        )
        ledger_ingest = LedgerIngest(self, "LedgerIngest", storage=storage, defaults=defaults)
        link_signing = LinkSigningSecret(self, "LinkSigning", config=config)
        authorizer = PortalAuthorizer(
            self, "PortalAuthorizer", defaults=defaults, storage=storage, link_signing=link_signing
        )
        api = Api(self, "Api", defaults=defaults, session_authorizer=authorizer.token_authorizer)
        web = PortalWeb(self, "PortalWeb", defaults=defaults, storage=storage, api=api.rest_api)
        # Links in emails open the page, unless the `portal_url` context names another address for it.
        portal_url = config.portal_url or web.url
        messaging = Messaging(
            self,
            "Messaging",
            storage=storage,
            defaults=defaults,
            link_secret=link_signing.secret,
            portal_url=portal_url,
        )
        dunning = Dunning(self, "Dunning", storage=storage, defaults=defaults, messaging=messaging)
        onboarding = Onboarding(
            self,
            "Onboarding",
            storage=storage,
            defaults=defaults,
            messaging=messaging,
            link_signing=link_signing,
            schedule_group=dunning.schedule_group,
        )
        link_requests = PortalLinkRequests(
            self,
            "PortalLinkRequests",
            defaults=defaults,
            storage=storage,
            messaging=messaging,
            link_signing=link_signing,
        )
        api.grant_routes(
            storage=storage,
            link_signing=link_signing,
            link_requests=link_requests,
            dunning=dunning,
            onboarding=onboarding,
            portal_url=portal_url,
        )
        acknowledge_cdk_helper_functions(self)

        CfnOutput(self, "ApiUrl", value=api.url)
        CfnOutput(self, "PortalUrl", value=portal_url)
        CfnOutput(self, "PortalDistributionUrl", value=web.url)
        CfnOutput(self, "IngestBucketName", value=storage.ingest_bucket.bucket_name)
        CfnOutput(self, "IngestDeadLetterQueueUrl", value=ledger_ingest.dead_letter_queue.queue_url)
        CfnOutput(self, "TablePrefix", value=config.table_prefix)
        CfnOutput(self, "AlarmTopicArn", value=observability.alarm_topic.topic_arn)
        CfnOutput(self, "DocumentsBucketName", value=storage.documents_bucket.bucket_name)
        CfnOutput(self, "DunningStateMachineArn", value=dunning.state_machine.state_machine_arn)
        CfnOutput(self, "OnboardingStateMachineArn", value=onboarding.state_machine.state_machine_arn)
        CfnOutput(self, "EmailFeedbackTopicArn", value=messaging.feedback_topic.topic_arn)
        CfnOutput(self, "SendRetryDeadLetterQueueUrl", value=messaging.send_retry_dead_letter_queue.queue_url)
        CfnOutput(self, "LinkRequestDeadLetterQueueUrl", value=link_requests.dead_letter_queue.queue_url)


def runtime_settings_environment(stack: Stack, config: StageConfig, storage: Storage) -> dict[str, str]:
    """The ARCOLLECT_* variables `shared.settings.RuntimeSettings` reads, set on every function."""
    return {
        "ARCOLLECT_STAGE": config.stage,
        "ARCOLLECT_TABLE_PREFIX": config.table_prefix,
        "ARCOLLECT_REGION": stack.region,
        "ARCOLLECT_TIN_KEY_ID": storage.tin_key.key_arn,
        "ARCOLLECT_TIN_MAC_KEY_ID": storage.tin_mac_key.key_arn,
        "ARCOLLECT_INGEST_BUCKET": storage.ingest_bucket.bucket_name,
    }
