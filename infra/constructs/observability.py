"""Logs, traces and alarms: the settings every function shares and the alarms that page someone."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig

METRICS_NAMESPACE = "arcollect"


class Observability(Construct):
    """Log groups with the stage's retention, Powertools settings, and alarms on an encrypted topic."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        alarm_key = kms.Key(
            self,
            "AlarmTopicKey",
            alias=f"alias/{config.name_prefix}-alarms",
            description="Encrypts the arcollect alarm topic",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
            pending_window=config.key_deletion_window,
        )
        # CloudWatch publishes alarm notifications itself, so it must be able to use the topic's key.
        alarm_key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=f"{config.name_prefix}-alarms",
            display_name="arcollect alarms",
            master_key=alarm_key,
            enforce_ssl=True,
        )
        self._alarm_action = cloudwatch_actions.SnsAction(self.alarm_topic)

    def log_group(self, scope: Construct, construct_id: str, *, log_group_name: str) -> logs.LogGroup:
        """A log group created with the stack (not on first write), so retention and removal are ours."""
        return logs.LogGroup(
            scope,
            construct_id,
            log_group_name=log_group_name,
            retention=self._config.log_retention,
            removal_policy=self._config.removal_policy,
        )

    def powertools_environment(self, service: str) -> dict[str, str]:
        return {
            "POWERTOOLS_SERVICE_NAME": service,
            "POWERTOOLS_LOG_LEVEL": self._config.log_level,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }

    def alarm_on_errors(self, function: lambda_.IFunction, *, name: str) -> cloudwatch.Alarm:
        """Any unhandled error: handlers map bad input to 4xx, so an error is a fault worth a look."""
        metric = function.metric_errors(period=Duration.minutes(5), statistic="Sum")
        return self._alarm_on_any(metric, f"{name}Errors", f"The {name} function raised errors")

    def alarm_on_dead_letters(self, queue: sqs.IQueue, *, name: str) -> cloudwatch.Alarm:
        """A message in a dead-letter queue is work that failed every retry: someone has to act."""
        metric = queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum")
        return self._alarm_on_any(metric, f"{name}DeadLetters", f"Messages are waiting in the {name} dead-letter queue")

    def _alarm_on_any(self, metric: cloudwatch.Metric, construct_id: str, description: str) -> cloudwatch.Alarm:
        """Alarm (and notify the alarm topic) as soon as the metric is 1 or more in one period."""
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._alarm_action)
        return alarm
