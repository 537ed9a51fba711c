"""The real dunning ASL under moto: the emulator provisioned as `arcollect local` provisions it (tables, queues,
the feedback topic, the link secret, the state machine from statemachines/dunning.asl.json), every Lambda task
routed to the real handlers in this process, SES's mailbox simulator listening, the standard policy applied."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from arcollect.local import lambda_router, outbox
from arcollect.local.dunning_resources import DunningResources, provision_dunning
from arcollect.local.emulator import Emulator
from arcollect.local.queue_poller import QueuePoller, router_invoke
from arcollect.local.ses_mailbox_simulator import MailboxSimulator, topic_publisher
from shared.settings import runtime_settings

REPO = Path(__file__).resolve().parents[2]
STANDARD_POLICY = REPO / "shared" / "dunning" / "standard_policy.yaml"
PORTAL = "http://portal.test"


@dataclass
class DunningSystem:
    emulator: Emulator
    router: lambda_router.LambdaRouter
    resources: DunningResources
    arns: dict[str, str]
    today: dt.date

    def sfn(self) -> Any:
        return self.emulator.client("stepfunctions")

    def start_run(self, as_of: dt.date | None = None, name: str | None = None) -> str:
        run_input = {"as_of": as_of.isoformat(), "trigger": "test"} if as_of else {"trigger": "schedule"}
        return str(
            self.sfn().start_execution(
                stateMachineArn=self.resources.state_machine_arn,
                name=name or f"test-{uuid.uuid4().hex[:10]}",
                input=json.dumps(run_input),
            )["executionArn"]
        )

    def wait(self, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn().describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return dict(described)
            if time.monotonic() > deadline:
                raise AssertionError(f"the run {execution_arn} did not finish within {timeout:.0f} s")
            time.sleep(0.1)

    def run(self, as_of: dt.date | None = None) -> dict[str, Any]:
        described = self.wait(self.start_run(as_of))
        assert described["status"] == "SUCCEEDED", described
        return dict(json.loads(described["output"]))

    def outbox(self) -> list[outbox.OutboxMessage]:
        return outbox.read_outbox(self.emulator.deployment.region)

    def poller(self, name: str) -> QueuePoller:
        queue = self.resources.send_retry if name == "dunning_send_retry" else self.resources.email_feedback
        function_name = self.router.function_name(name)
        invoke = router_invoke(self.router, function_name, self.arns[function_name])
        return QueuePoller(self.emulator.client("sqs"), queue.url, queue.arn, self.emulator.deployment.region, invoke)

    def drain(self, name: str, rounds: int = 10) -> None:
        poller = self.poller(name)
        for _ in range(rounds):
            if not poller.poll_once():
                return


def start_dunning_system(today: dt.date) -> tuple[DunningSystem, Callable[[], None]]:
    saved_environment = dict(os.environ)
    emulator = Emulator()
    emulator.start()
    emulator.provision()
    emulator.export_environment(today=today.isoformat(), portal_url=PORTAL)
    router = lambda_router.LambdaRouter(emulator.deployment.resource_prefix)
    lambda_router.install(router)
    arns = router.provision(emulator.client("iam"), emulator.client("lambda"))
    resources = provision_dunning(emulator.client, emulator.deployment, lambda n: arns[router.function_name(n)])
    simulator = MailboxSimulator(topic_publisher(emulator.client("sns"), resources.feedback_topic_arn))
    outbox.start_recording(emulator.deployment.region, on_email=simulator)
    _clear_handler_caches()

    def stop() -> None:
        lambda_router.uninstall()
        emulator.stop()
        os.environ.clear()
        os.environ.update(saved_environment)
        runtime_settings.cache_clear()
        _clear_handler_caches()

    return DunningSystem(emulator, router, resources, arns, today), stop


def _clear_handler_caches() -> None:
    """Each handler builds its services once per process (a Lambda container): a new system needs new ones."""
    import importlib

    for name in ("dunning_plan", "dunning_dispatch", "dunning_finish", "dunning_send_retry"):
        module = importlib.import_module(f"functions.{name}.handler")
        module.services.cache_clear()
    importlib.import_module("functions.email_feedback.handler").feedback_handler.cache_clear()


def apply_policy(text: str, now: dt.datetime) -> int:
    from shared.dunning.policy import parse_policy_file
    from shared.dunning.policy_store import PolicyStore

    return PolicyStore().apply(parse_policy_file(text), text, "test", now)


@pytest.fixture
def dunning_system() -> Iterator[DunningSystem]:
    system, stop = start_dunning_system(dt.date(2026, 3, 2))
    try:
        yield system
    finally:
        stop()
