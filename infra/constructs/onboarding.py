"""Onboarding as deployed: statemachines/onboarding.asl.json (its one placeholder filled by `definition_substitutions`
with the `onboarding_step` function) validates each revision of a customer's master data, emails the verification
link and waits for the click; the hourly `onboarding_sweep` (EventBridge Scheduler, a Lambda target) sends the
invitations and reminders that have come due and restarts validations a DNS or registry outage left pending.

The API starts validations (PUT /portal/me) and hands the click back to the waiting execution
(GET /onboarding/verify): it is granted that here, by `grant_start` and `grant_task_response`, so everything that
touches the state machine is said next to it.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.bundling import REPO_ROOT
from infra.config import StageConfig
from infra.constructs.dunning import (
    SCHEDULE_INPUT,
    SCHEDULE_MAX_EVENT_AGE,
    SCHEDULE_RETRY_ATTEMPTS,
    LinkSigningSecret,
)
from infra.constructs.lambda_function import FunctionDefaults, PythonFunction
from infra.constructs.messaging import Messaging
from infra.constructs.state_machines import alarm_on_failed_executions, asl_state_machine, hourly_schedule
from infra.constructs.storage import Storage
from infra.nag import acknowledge, arn_finding

DEFINITION_FILE = REPO_ROOT / "statemachines" / "onboarding.asl.json"
# Placeholder in the ASL → the function whose ARN replaces it: one function runs every step.
FUNCTION_PLACEHOLDERS = {"OnboardingStepFunctionArn": "onboarding_step"}
# Validate asks DNS (up to three lookups of 5 s) and the VIES registry; the other steps are a few writes.
STEP_TIMEOUT = Duration.minutes(1)
# Every due customer it can reach in the hour, one email or one execution start each; what is left stays due.
SWEEP_TIMEOUT = Duration.minutes(15)  # it works until a minute is left, then the next hour goes on
# Emails go out like reminders (sender, seller, configuration set); the verification link is a one-time token
# under the portal's address, so the step needs no link-signing key.
STEP_SETTINGS = (
    "ARCOLLECT_SENDER_EMAIL",
    "ARCOLLECT_SELLER_NAME",
    "ARCOLLECT_PORTAL_URL",
    "ARCOLLECT_SES_CONFIGURATION_SET",
)
# Invitations carry a signed portal link (purpose "onboarding").
SWEEP_SETTINGS = (*STEP_SETTINGS, "ARCOLLECT_LINK_SECRET_ID")
# The step saves the customer's verdict, the verification token, the task of a customer needing attention and
# the timeline; it reads the TIN's claim (one active holder) and the suppression list.
STEP_WRITES = ("customers", "email_verifications", "tasks", "activities")
STEP_READS = ("tin_claims", "suppressions")
# The sweep reads the due customers (customers' onboarding_due_index), marks them invited or restarted, and
# records it on the timeline.
SWEEP_WRITES = ("customers", "activities")
STATE_MACHINE_ARN_SETTING = "ARCOLLECT_ONBOARDING_STATE_MACHINE_ARN"


class Onboarding(Construct):
    """The onboarding workflow, its hourly sweep and the grants for whoever starts it or answers its click; a
    failed execution raises an alarm (a customer would be left in validating)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        defaults: FunctionDefaults,
        messaging: Messaging,
        link_signing: LinkSigningSecret,
        schedule_group: scheduler.IScheduleGroup,
    ) -> None:
        """`schedule_group`: the stage's group (Dunning creates it), where the sweep's schedule goes."""
        super().__init__(scope, construct_id)
        config = defaults.config
        self._defaults = defaults
        self._state_machine_name = config.names.onboarding_state_machine

        self.step = PythonFunction(
            self,
            "Step",
            name="onboarding_step",
            description="Runs one step of the onboarding workflow: validate, verification email, activate, ...",
            defaults=defaults,
            timeout=STEP_TIMEOUT,
            environment={name: messaging.sending_environment[name] for name in STEP_SETTINGS},
        )
        storage.grant_table_data(self.step.role, STEP_WRITES, write=True)
        storage.grant_table_data(self.step.role, STEP_READS, write=False)
        storage.grant_tin_decrypt(self.step.role)  # the TIN rules and the registry need the TIN in clear
        messaging.grant_email(self.step.role)

        self.state_machine = self._state_machine(config)
        # The waiting step answers its own task token when there is nothing to wait for (the address was
        # confirmed already, or a newer revision took over before the email left).
        self.grant_task_response(self.step.role)

        self.sweep = PythonFunction(
            self,
            "Sweep",
            name="onboarding_sweep",
            description="Sends due onboarding invitations and reminders, restarts validations after an outage",
            defaults=defaults,
            timeout=SWEEP_TIMEOUT,
            environment={
                **{name: messaging.sending_environment[name] for name in SWEEP_SETTINGS},
                **self.environment,
            },
        )
        # Item reads and writes on customers include its onboarding_due_index, which the sweep queries.
        storage.grant_table_data(self.sweep.role, SWEEP_WRITES, write=True)
        messaging.grant_email(self.sweep.role)
        link_signing.grant_read(self.sweep.role)
        self.grant_start(self.sweep.role)

        self.schedule = self._schedule(config, schedule_group)
        self._alarm_on_failed_runs()

    @property
    def environment(self) -> dict[str, str]:
        """What starting a validation needs (the sweep, the API)."""
        return {STATE_MACHINE_ARN_SETTING: self.state_machine.state_machine_arn}

    @property
    def invite_environment(self) -> dict[str, str]:
        """What sending an invitation through the sweep needs (the staff API: it holds no SES grant itself)."""
        return {"ARCOLLECT_ONBOARDING_SWEEP_FUNCTION": self.sweep.function.function_name}

    def grant_invite(self, grantee: iam.IGrantable) -> None:
        """Invoke the sweep with `{"invite": customer_id}`: the invitation goes out with the sweep's own grants."""
        # The unqualified ARN only (CDK's grant_invoke adds every version and alias, a wildcard nobody needs).
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["lambda:InvokeFunction"], resource_arns=[self.sweep.function.function_arn]
        )

    def grant_start(self, role: iam.Role) -> None:
        """Start a validation, and stop the customer's previous one (a newer revision supersedes it)."""
        self.state_machine.grant_start_execution(role)
        iam.Grant.add_to_principal(
            grantee=role, actions=["states:StopExecution"], resource_arns=[self._executions_arn()]
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{self._executions_finding()}]",
            reason="Executions are named per customer and revision when they start; stopping one is limited to "
            "the onboarding state machine's own executions.",
        )

    def grant_task_response(self, role: iam.Role) -> None:
        """Hand the verification click back to the execution waiting for it (SendTaskSuccess with its token).
        The machine's ARN is built from its name: the step's own role holds this grant, and the machine depends
        on the step — its ARN attribute here would be a circular dependency."""
        iam.Grant.add_to_principal(
            grantee=role, actions=["states:SendTaskSuccess"], resource_arns=[self._machine_arn()]
        )

    def _machine_arn(self) -> str:
        return Stack.of(self).format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self._state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _executions_arn(self) -> str:
        # Built from the name: CDK's grant_execution splits the machine's ARN at deploy time instead, which
        # says less in the template and in cdk-nag's findings.
        return Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self._state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _executions_finding(self) -> str:
        return f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{self._state_machine_name}:*"

    def _state_machine(self, config: StageConfig) -> sfn.StateMachine:
        name = self._state_machine_name
        role = iam.Role(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Runs {name}: invokes the onboarding step function and nothing else",
        )
        return asl_state_machine(
            self,
            name=name,
            definition_file=DEFINITION_FILE,
            functions={
                placeholder: {"onboarding_step": self.step}[fn] for placeholder, fn in FUNCTION_PLACEHOLDERS.items()
            },
            role=role,
            defaults=self._defaults,
        )

    def _schedule(self, config: StageConfig, group: scheduler.IScheduleGroup) -> scheduler.Schedule:
        names = config.names
        schedule, role = hourly_schedule(
            self,
            name=names.onboarding_schedule,
            group=group,
            description="Runs the onboarding sweep every hour (UTC): due invitations, reminders, revalidations",
            role_description=f"Invokes {self.sweep.function_name} every hour and nothing else",
            target=lambda role: scheduler_targets.LambdaInvoke(
                self.sweep.function,
                input=scheduler.ScheduleTargetInput.from_object(SCHEDULE_INPUT),
                role=role,
                max_event_age=SCHEDULE_MAX_EVENT_AGE,
                retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
            ),
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{arn_finding(self.sweep.function)}:*]",
            reason="CDK's Lambda target grants invoking the sweep function and its versions and aliases; the "
            "sweep has none, so the role can invoke that one function and nothing else.",
        )
        return schedule

    def _alarm_on_failed_runs(self) -> None:
        """An execution that fails has left a customer's validation unfinished: someone has to look."""
        alarm_on_failed_executions(
            self,
            self.state_machine,
            "ExecutionsFailed",
            "An onboarding validation failed",
            self._defaults.observability.alarm_topic,
        )
