"""The S3 drop folder flow: an ERP export lands in `incoming/<kind>/<name>.csv`, S3 notifies a queue, and
the ledger_ingest function imports the file and writes `reports/...json` beside the kept original."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from infra.constructs.lambda_function import FunctionDefaults, PythonFunction
from infra.constructs.queues import dead_letter_queue, work_queue
from infra.constructs.storage import Storage
from infra.nag import acknowledge, arn_finding

INCOMING_PREFIX = "incoming/"
REPORTS_PREFIX = "reports/"
# The import writes to every ledger table and records the run itself.
LEDGER_TABLES = ("customers", "tin_claims", "invoices", "payments", "credit_notes", "activities", "imports")

FUNCTION_TIMEOUT = Duration.minutes(5)
# A message stays hidden for longer than every retry Lambda may make on it (AWS: six times the timeout).
VISIBILITY_TIMEOUT = Duration.minutes(30)
DELIVERY_ATTEMPTS = 3


class LedgerIngest(Construct):
    """Nothing dropped is lost: a file that fails every attempt lands in a dead-letter queue with an alarm."""

    def __init__(self, scope: Construct, construct_id: str, *, storage: Storage, defaults: FunctionDefaults) -> None:
        super().__init__(scope, construct_id)
        config = defaults.config
        bucket = storage.ingest_bucket
        self.dead_letter_queue = dead_letter_queue(
            self,
            "DeadLetterQueue",
            config.names.ledger_ingest_dead_letter_queue,
            of="ingest",
            removal_policy=config.removal_policy,
        )
        self.queue = work_queue(
            self,
            "Queue",
            config.names.ledger_ingest_queue,
            visibility=VISIBILITY_TIMEOUT,
            retention=Duration.days(4),
            dead_letters=self.dead_letter_queue,
            attempts=DELIVERY_ATTEMPTS,
            removal_policy=config.removal_policy,
        )
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queue),
            s3.NotificationKeyFilter(prefix=INCOMING_PREFIX, suffix=".csv"),
        )

        self.handler = PythonFunction(
            self,
            "Handler",
            name="ledger_ingest",
            description="Imports ERP CSV exports dropped in the ingest bucket and writes an import report",
            defaults=defaults,
            timeout=FUNCTION_TIMEOUT,
            memory_size=1024,
        )
        # One file per invocation: a bad file fails alone, and its report names it.
        self.handler.function.add_event_source(
            event_sources.SqsEventSource(self.queue, batch_size=1, report_batch_item_failures=True)
        )
        role = self.handler.role
        iam.Grant.add_to_principal(
            grantee=role, actions=["s3:GetObject"], resource_arns=[bucket.arn_for_objects(f"{INCOMING_PREFIX}*")]
        )
        iam.Grant.add_to_principal(
            grantee=role, actions=["s3:PutObject"], resource_arns=[bucket.arn_for_objects(f"{REPORTS_PREFIX}*")]
        )
        storage.grant_data_key(role)  # the dropped files and the reports are under the data key
        storage.grant_table_data(role, LEDGER_TABLES, write=True)
        storage.grant_tin_protection(role)
        defaults.observability.alarm_on_dead_letters(self.dead_letter_queue, name="LedgerIngest")
        for prefix in (INCOMING_PREFIX, REPORTS_PREFIX):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{arn_finding(bucket)}/{prefix}*]",
                reason="Object keys follow the dropped files' names, which the ERP chooses; the grant is one "
                f"action limited to the {prefix} prefix.",
            )
