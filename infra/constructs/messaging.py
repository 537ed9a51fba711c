"""How reminders leave and what comes back: the SES configuration set whose bounces and complaints reach
the email_feedback function (SES → encrypted SNS topic → queue), SMS through SNS, and the send-retry queue
where a failed send waits for another attempt before it becomes a task.

Dispatch (the dunning run) and the retry function send the same way, so `grant_sending` is the one place
that says what sending a reminder takes.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.lambda_function import FunctionDefaults, PythonFunction
from infra.constructs.queues import dead_letter_queue, work_queue
from infra.constructs.storage import Storage
from infra.nag import acknowledge, arn_finding

# What sending one customer's reminder reads (the ledger, re-read at send time, and the policies) and
# writes (the invoice's dunning state, the exactly-once claim, the timeline, tasks, the run's accounting).
SENDING_READS = ("customers", "invoices", "policy_sets", "payments", "credit_notes")
SENDING_WRITES = ("invoices", "sends", "activities", "tasks", "dunning_batches", "dunning_runs")
# A bounce or complaint marks the address and the send, and falls back to SMS or a call task; the address goes
# on arcollect's suppression list, which onboarding checks before it accepts an AP address.
FEEDBACK_WRITES = ("customers", "sends", "tasks", "activities", "invoices", "suppressions")
# Letters and agency referrals are written as PDFs and CSVs for people to act on.
SENT_DOCUMENT_PREFIXES = ("letters/", "agency/")
SES_SEND_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail")
FEEDBACK_EVENTS = (ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT)

SEND_RETRY_TIMEOUT = Duration.minutes(2)
FEEDBACK_TIMEOUT = Duration.minutes(1)
# A message stays hidden for longer than every retry Lambda may make on it (AWS: six times the timeout).
SEND_RETRY_VISIBILITY = Duration.minutes(12)
FEEDBACK_VISIBILITY = Duration.minutes(6)
DELIVERY_ATTEMPTS = 3
BATCH_SIZE = 10


class Messaging(Construct):
    """Email, SMS and the feedback loop; every queue has a dead-letter queue that raises an alarm."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        defaults: FunctionDefaults,
        link_secret: secretsmanager.ISecret,
        portal_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self._defaults = defaults
        self._link_secret = link_secret
        config = defaults.config
        names = config.names
        self.configuration_set_name = names.ses_configuration_set
        self.feedback_topic = self._feedback_topic()
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=self.configuration_set_name,
            # Reminders carry invoices and a personal portal link: never in clear between mail servers.
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
            reputation_metrics=True,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        self.configuration_set.add_event_destination(
            "Feedback",
            destination=ses.EventDestination.sns_topic(self.feedback_topic),
            events=list(FEEDBACK_EVENTS),
        )

        self.send_retry_dead_letter_queue = self._dead_letter_queue(
            "SendRetryDeadLetterQueue", names.send_retry_dead_letter_queue, of="send-retry"
        )
        self.send_retry_queue = self._queue(
            "SendRetryQueue", names.send_retry_queue, SEND_RETRY_VISIBILITY, self.send_retry_dead_letter_queue
        )
        self.feedback_dead_letter_queue = self._dead_letter_queue(
            "FeedbackDeadLetterQueue", names.email_feedback_dead_letter_queue, of="email-feedback"
        )
        self.feedback_queue = self._queue(
            "FeedbackQueue", names.email_feedback_queue, FEEDBACK_VISIBILITY, self.feedback_dead_letter_queue
        )
        # Raw delivery off: the handler reads the SNS envelope, as under `arcollect local`.
        self.feedback_topic.add_subscription(
            subscriptions.SqsSubscription(self.feedback_queue, raw_message_delivery=False)
        )
        defaults.observability.alarm_on_dead_letters(self.send_retry_dead_letter_queue, name="SendRetry")
        defaults.observability.alarm_on_dead_letters(self.feedback_dead_letter_queue, name="EmailFeedback")

        self.sending_environment: dict[str, str] = {
            "ARCOLLECT_DOCUMENTS_BUCKET": storage.documents_bucket.bucket_name,
            "ARCOLLECT_SENDER_EMAIL": config.sender_email,
            "ARCOLLECT_SELLER_NAME": config.seller_name,
            "ARCOLLECT_PORTAL_URL": portal_url,
            "ARCOLLECT_LINK_SECRET_ID": link_secret.secret_arn,
            "ARCOLLECT_SEND_RETRY_QUEUE_URL": self.send_retry_queue.queue_url,
            "ARCOLLECT_SES_CONFIGURATION_SET": self.configuration_set_name,
        }
        self.send_retry = self._send_retry_function()
        self.email_feedback = self._email_feedback_function()

    def grant_sending(self, function: PythonFunction) -> None:
        """Everything sending a reminder takes: the ledger and run tables, letters and referrals, email
        through the configuration set, SMS, the retry queue and the link-signing key."""
        role = function.role
        self._storage.grant_table_data(role, sorted(set(SENDING_READS) - set(SENDING_WRITES)), write=False)
        self._storage.grant_table_data(role, SENDING_WRITES, write=True)
        self._storage.grant_documents(role, SENT_DOCUMENT_PREFIXES, read=False, write=True)
        for prefix in SENT_DOCUMENT_PREFIXES:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{arn_finding(self._storage.documents_bucket)}/{prefix}*]",
                reason=f"Each letter or referral is a new object named by customer and date; the grant is "
                f"PutObject only, limited to the {prefix} prefix.",
            )
        self.grant_email(role)
        self.grant_sms(function)
        self.grant_retry(role)
        self.grant_link_signing(role)

    def grant_email(self, grantee: iam.IGrantable) -> None:
        """Send as the sender (its address or its domain, whichever SES verified) through our configuration
        set only: SES checks the permission on both the identity and the configuration set."""
        stack = Stack.of(self)
        config = self._defaults.config
        resources = [
            stack.format_arn(service="ses", resource="identity", resource_name=identity)
            for identity in (config.sender_email, config.sender_domain)
        ]
        resources.append(
            stack.format_arn(service="ses", resource="configuration-set", resource_name=self.configuration_set_name)
        )
        iam.Grant.add_to_principal(grantee=grantee, actions=list(SES_SEND_ACTIONS), resource_arns=resources)

    def grant_sms(self, function: PythonFunction) -> None:
        """SMS to a phone number has no resource ARN, so publishing is allowed on "*" and denied on every
        SNS ARN: the function can text a phone but not publish to any topic. A policy of its own, so its
        acknowledgement does not hide behind the role's (X-Ray's) one."""
        policy = iam.Policy(
            function,
            "SmsPolicy",
            roles=[function.role],
            statements=[
                iam.PolicyStatement(actions=["sns:Publish"], resources=["*"]),
                iam.PolicyStatement(
                    effect=iam.Effect.DENY,
                    actions=["sns:Publish"],
                    resources=[f"arn:{Stack.of(self).partition}:sns:*:*:*"],
                ),
            ],
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            reason="Sending an SMS to a phone number through SNS has no resource ARN to name; the statement is "
            "sns:Publish only, and a deny on every SNS topic and endpoint ARN leaves phone numbers alone.",
        )

    def grant_retry(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["sqs:SendMessage"], resource_arns=[self.send_retry_queue.queue_arn]
        )

    def grant_link_signing(self, grantee: iam.IGrantable) -> None:
        """Read the key that signs portal links (the current and, during rotation, the previous version)."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["secretsmanager:GetSecretValue"], resource_arns=[self._link_secret.secret_arn]
        )

    def _feedback_topic(self) -> sns.Topic:
        config = self._defaults.config
        stack = Stack.of(self)
        # The AWS managed SNS key cannot be shared with SES (its policy is AWS's), so the topic has a key of
        # its own that SES may use only for this configuration set, in this account.
        key = kms.Key(
            self,
            "FeedbackTopicKey",
            alias=config.names.key_alias("email-feedback"),
            description="Encrypts the SES bounce and complaint notifications",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
            pending_window=config.key_deletion_window,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": stack.format_arn(
                            service="ses",
                            resource="configuration-set",
                            resource_name=config.names.ses_configuration_set,
                        ),
                    }
                },
            )
        )
        return sns.Topic(
            self,
            "FeedbackTopic",
            topic_name=config.names.email_feedback_topic,
            display_name="arcollect email feedback",
            master_key=key,
            enforce_ssl=True,
        )

    def _dead_letter_queue(self, construct_id: str, queue_name: str, *, of: str) -> sqs.Queue:
        return dead_letter_queue(
            self, construct_id, queue_name, of=of, removal_policy=self._defaults.config.removal_policy
        )

    def _queue(
        self, construct_id: str, queue_name: str, visibility: Duration, dead_letter_queue: sqs.IQueue
    ) -> sqs.Queue:
        return work_queue(
            self,
            construct_id,
            queue_name,
            visibility=visibility,
            retention=Duration.days(4),
            dead_letters=dead_letter_queue,
            attempts=DELIVERY_ATTEMPTS,
            removal_policy=self._defaults.config.removal_policy,
        )

    def _send_retry_function(self) -> PythonFunction:
        function = PythonFunction(
            self,
            "SendRetry",
            name="dunning_send_retry",
            description="Retries reminder sends that failed; after the last attempt the send becomes a task",
            defaults=self._defaults,
            timeout=SEND_RETRY_TIMEOUT,
            memory_size=1024,
            environment=self.sending_environment,
        )
        function.function.add_event_source(
            event_sources.SqsEventSource(self.send_retry_queue, batch_size=BATCH_SIZE, report_batch_item_failures=True)
        )
        self.grant_sending(function)
        return function

    def _email_feedback_function(self) -> PythonFunction:
        # The SMS fallback carries the customer's portal link, so it signs links like dispatch does.
        needed = (
            "ARCOLLECT_SELLER_NAME",
            "ARCOLLECT_PORTAL_URL",
            "ARCOLLECT_LINK_SECRET_ID",
            "ARCOLLECT_SEND_RETRY_QUEUE_URL",
        )
        function = PythonFunction(
            self,
            "EmailFeedback",
            name="email_feedback",
            description="Records SES bounces and complaints and falls back to SMS or a call task",
            defaults=self._defaults,
            timeout=FEEDBACK_TIMEOUT,
            environment={name: self.sending_environment[name] for name in needed},
        )
        function.function.add_event_source(
            event_sources.SqsEventSource(self.feedback_queue, batch_size=BATCH_SIZE, report_batch_item_failures=True)
        )
        self._storage.grant_table_data(function.role, FEEDBACK_WRITES, write=True)
        self.grant_sms(function)
        self.grant_retry(function.role)
        self.grant_link_signing(function.role)
        return function
