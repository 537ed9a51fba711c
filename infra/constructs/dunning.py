"""The dunning run: statemachines/dunning.asl.json deployed as it is (placeholders filled by
`definition_substitutions`), started every hour by EventBridge Scheduler so each customer is reached inside
its local send window, and the three functions it calls: plan (the due shards of the next-action index →
an S3 manifest of customer batches), dispatch (one batch, inside a Distributed Map) and finish.

The link-signing secret is its own small construct: the run signs links, and so do the messaging functions
(a retried send, the SMS fallback), which exist before the run does.
"""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.bundling import REPO_ROOT
from infra.config import StageConfig
from infra.constructs.lambda_function import FunctionDefaults, PythonFunction
from infra.constructs.messaging import Messaging
from infra.constructs.state_machines import alarm_on_failed_executions, asl_state_machine, hourly_schedule
from infra.constructs.storage import RUN_MANIFESTS_PREFIX, Storage
from infra.nag import acknowledge, arn_finding

DEFINITION_FILE = REPO_ROOT / "statemachines" / "dunning.asl.json"
# Placeholder in the ASL → the function whose ARN replaces it.
FUNCTION_PLACEHOLDERS = {
    "DunningPlanFunctionArn": "dunning_plan",
    "DunningDispatchFunctionArn": "dunning_dispatch",
    "DunningFinishFunctionArn": "dunning_finish",
}
RUN_FUNCTION_TIMEOUT = Duration.minutes(5)
SCHEDULE_INPUT = {"trigger": "schedule"}
# A run that could not start within the hour is superseded by the next one, which covers everything due.
SCHEDULE_MAX_EVENT_AGE = Duration.hours(1)
SCHEDULE_RETRY_ATTEMPTS = 3
# Secrets Manager's generated key: 64 letters and digits under "key", next to its key id.
LINK_KEY_TEMPLATE = {"kid": "k1"}
LINK_KEY_LENGTH = 64


class LinkSigningSecret(Construct):
    """The key portal links are signed with. Rotation is manual and gentle: links signed with the previous
    key (AWSPREVIOUS) stay valid until they expire, so a new version never breaks a link already sent."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=config.names.link_secret_name,
            description="Signs customers' portal links (JWT HS256); AWSCURRENT and AWSPREVIOUS are both honoured",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(LINK_KEY_TEMPLATE, separators=(",", ":")),
                generate_string_key="key",
                password_length=LINK_KEY_LENGTH,
                exclude_punctuation=True,
            ),
            removal_policy=config.removal_policy,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            reason="The link-signing key is rotated by hand (put a new version with the next kid): verifiers "
            "honour AWSCURRENT and AWSPREVIOUS, so links already sent keep working; a rotation Lambda would "
            "add nothing but a second way to do it.",
        )

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Read the key (the current and, during rotation, the previous version): to sign links or check them."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["secretsmanager:GetSecretValue"], resource_arns=[self.secret.secret_arn]
        )


class Dunning(Construct):
    """The hourly run; its failures raise an alarm, and nothing it claims is dropped (finish hands every
    unsent claim to the retry queue)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        defaults: FunctionDefaults,
        messaging: Messaging,
    ) -> None:
        super().__init__(scope, construct_id)
        config = defaults.config
        self._storage = storage
        self._defaults = defaults
        self.plan = self._function(
            "Plan",
            "dunning_plan",
            "Plans a dunning run: reads what is due and writes the batch manifest",
            environment={"ARCOLLECT_DOCUMENTS_BUCKET": storage.documents_bucket.bucket_name},
            memory_size=1024,
        )
        storage.grant_index_reads(self.plan.role, "invoices", indexes=["next_action_index"])
        storage.grant_table_data(self.plan.role, ["dunning_runs"], write=True)
        self._grant_run_manifests(self.plan.role, read=False, write=True)

        self.dispatch = self._function(
            "Dispatch",
            "dunning_dispatch",
            "Sends one batch of a dunning run: one message per customer, channel and day",
            environment=messaging.sending_environment,
            memory_size=1024,
        )
        messaging.grant_sending(self.dispatch)

        self.finish = self._function(
            "Finish",
            "dunning_finish",
            "Closes a dunning run: adds its batches up and hands unsent claims to the retry queue",
            environment={
                "ARCOLLECT_SEND_RETRY_QUEUE_URL": messaging.sending_environment["ARCOLLECT_SEND_RETRY_QUEUE_URL"]
            },
        )
        storage.grant_table_data(self.finish.role, ["dunning_runs", "dunning_batches", "sends"], write=True)
        messaging.grant_retry(self.finish.role)

        self.state_machine = self._state_machine(config)
        self.schedule = self._schedule(config)
        self._alarm_on_failed_runs()

    def _function(
        self, construct_id: str, name: str, description: str, *, environment: dict[str, str], memory_size: int = 512
    ) -> PythonFunction:
        return PythonFunction(
            self,
            construct_id,
            name=name,
            description=description,
            defaults=self._defaults,
            timeout=RUN_FUNCTION_TIMEOUT,
            memory_size=memory_size,
            environment=environment,
        )

    def _grant_run_manifests(self, role: iam.Role, *, read: bool, write: bool) -> None:
        self._storage.grant_documents(role, [RUN_MANIFESTS_PREFIX], read=read, write=write)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{arn_finding(self._storage.documents_bucket)}/{RUN_MANIFESTS_PREFIX}*]",
            reason="Each run writes its manifest under its own run id, unknown until the run starts; the grant "
            f"is limited to the {RUN_MANIFESTS_PREFIX} prefix.",
        )

    def _state_machine(self, config: StageConfig) -> sfn.StateMachine:
        stack = Stack.of(self)
        name = config.names.dunning_state_machine
        role = iam.Role(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Runs {name}: invokes its three functions, reads run manifests, starts its batches",
        )
        functions = {"dunning_plan": self.plan, "dunning_dispatch": self.dispatch, "dunning_finish": self.finish}
        self._grant_run_manifests(role, read=True, write=False)  # the Distributed Map's ItemReader
        # Built from the name, not the machine's ARN attribute: the machine depends on this role's policy.
        own_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        child_executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{name}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        iam.Grant.add_to_principal(grantee=role, actions=["states:StartExecution"], resource_arns=[own_arn])
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["states:DescribeExecution", "states:StopExecution"],
            resource_arns=[child_executions],
        )
        state_machine = asl_state_machine(
            self,
            name=name,
            definition_file=DEFINITION_FILE,
            functions={placeholder: functions[function] for placeholder, function in FUNCTION_PLACEHOLDERS.items()},
            role=role,
            defaults=self._defaults,
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"{name}/*]",
            reason="The Distributed Map starts one child execution per batch, named by Step Functions; "
            "describing and stopping them is limited to this state machine's own executions.",
        )
        return state_machine

    def _schedule(self, config: StageConfig) -> scheduler.Schedule:
        names = config.names
        # The stage's one schedule group: onboarding's hourly sweep is scheduled in it too.
        self.schedule_group = group = scheduler.ScheduleGroup(
            self,
            "ScheduleGroup",
            schedule_group_name=names.schedule_group,
            removal_policy=config.removal_policy,
        )
        schedule, _ = hourly_schedule(
            self,
            name=names.dunning_schedule,
            group=group,
            description="Starts the dunning run every hour (UTC)",
            role_description=f"Starts {names.dunning_state_machine} every hour and nothing else",
            target=lambda role: scheduler_targets.StepFunctionsStartExecution(
                self.state_machine,
                input=scheduler.ScheduleTargetInput.from_object(SCHEDULE_INPUT),
                role=role,
                max_event_age=SCHEDULE_MAX_EVENT_AGE,
                retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
            ),
        )
        return schedule

    def _alarm_on_failed_runs(self) -> None:
        """A run that fails has sent part of the day's reminders at most: someone has to look."""
        alarm_on_failed_executions(
            self, self.state_machine, "RunsFailed", "A dunning run failed", self._defaults.observability.alarm_topic
        )
