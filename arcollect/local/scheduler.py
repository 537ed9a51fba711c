"""The local system's EventBridge Scheduler: moto stores schedules and never fires them (LOCAL-AWS.md), so this
thread reads the schedules the system created from the same definitions CDK deploys and starts their targets
when they fall due: Step Functions state machines (an execution named after the fire) and Lambda functions
(invoked asynchronously).

Supported expressions are those arcollect deploys: `cron(M H * * ? *)` with a fixed minute and an hour that is
`*` or fixed, and `rate(N minute|minutes|hour|hours)`. Every fire is named after its schedule and due time, so
a fire is started once even if the thread looks twice. Missed fires while the system was stopped are not
replayed, as in AWS.

Under `arcollect local --today D` every fire plans for day D (`as_of`): the fixed clock stands near noon UTC,
which is outside most customers' send windows, so an hourly run planning for "now" would send nothing all day.
A run for a day covers all of that day and sends each message once, so hourly fires stay harmless."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

logger = logging.getLogger(__name__)

_CRON = re.compile(r"^cron\((\d{1,2}) (\*|\d{1,2}) \* \* \? \*\)$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours)\)$")


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    target_arn: str
    input: str

    def check(self) -> None:
        """ValueError unless the local scheduler can run this expression."""
        cron = _CRON.match(self.expression)
        if cron:
            if not 0 <= int(cron.group(1)) <= 59 or (cron.group(2) != "*" and not 0 <= int(cron.group(2)) <= 23):
                raise ValueError(
                    f"schedule {self.name}: {self.expression!r} is not an expression the local scheduler runs "
                    "(no such minute or hour)"
                )
            return
        rate = _RATE.match(self.expression)
        if rate:
            if int(rate.group(1)) < 1:
                raise ValueError(
                    f"schedule {self.name}: {self.expression!r} is not an expression the local scheduler runs "
                    "(a rate is at least 1)"
                )
            return
        raise ValueError(f"schedule {self.name}: {self.expression!r} is not an expression the local scheduler runs")

    def fires_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Due times in (start, end]."""
        self.check()
        cron = _CRON.match(self.expression)
        times: list[datetime] = []
        if cron:
            minute, hour = int(cron.group(1)), cron.group(2)
            moment = start.replace(second=0, microsecond=0, minute=minute)
            if moment <= start:
                moment += timedelta(hours=1)
            while moment <= end:
                if hour == "*" or moment.hour == int(hour):
                    times.append(moment)
                moment += timedelta(hours=1)
            return times
        rate = _RATE.match(self.expression)
        if rate:
            step = (
                timedelta(minutes=int(rate.group(1)))
                if rate.group(2).startswith("minute")
                else timedelta(hours=int(rate.group(1)))
            )
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            moment = start + (step - (start - epoch) % step)
            while moment <= end:
                times.append(moment)
                moment += step
            return times
        raise ValueError(f"schedule {self.name}: {self.expression!r} is not an expression the local scheduler runs")


def read_schedules(scheduler: Any, group: str) -> list[Schedule]:
    schedules = []
    for summary in scheduler.list_schedules(GroupName=group).get("Schedules", []):
        detail = scheduler.get_schedule(GroupName=group, Name=summary["Name"])
        if detail.get("State", "ENABLED") != "ENABLED":
            continue
        target = detail["Target"]
        schedules.append(
            Schedule(detail["Name"], detail["ScheduleExpression"], target["Arn"], target.get("Input") or "{}")
        )
    return schedules


def execution_name(schedule: Schedule, due: datetime) -> str:
    return f"{schedule.name}-{due.astimezone(UTC):%Y%m%dT%H%M}"[:80]


class LocalScheduler:
    def __init__(
        self,
        scheduler: Any,
        stepfunctions: Any,
        group: str,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        interval: float = 15.0,
        today: date | None = None,
        lambda_client: Any = None,
    ) -> None:
        self._today = today
        self._lambda = lambda_client
        self._scheduler = scheduler
        self._sfn = stepfunctions
        self._group = group
        self._now = now
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = now()

    def start(self) -> None:
        self._last = self._now()
        self._thread = threading.Thread(target=self._loop, name="local-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception:
                logger.exception("the local scheduler could not read or start its schedules")

    def tick(self) -> list[str]:
        """Start every target that fell due since the last tick; returns the execution names started."""
        now = self._now()
        started = []
        for schedule in read_schedules(self._scheduler, self._group):
            try:
                due_times = schedule.fires_between(self._last, now)
            except ValueError as exc:  # one bad schedule must not stop the others
                logger.warning("%s", exc)
                continue
            for due in due_times:
                started.append(self.fire(schedule, due))
        self._last = now
        return started

    def input_for(self, schedule: Schedule) -> str:
        """The schedule's input; under a fixed today, with that day as `as_of` (unless the input names one)."""
        if self._today is None:
            return schedule.input
        try:
            payload = json.loads(schedule.input)
        except ValueError:
            return schedule.input
        if not isinstance(payload, dict) or payload.get("as_of"):
            return schedule.input
        return json.dumps({**payload, "as_of": self._today.isoformat()})

    def fire(self, schedule: Schedule, due: datetime) -> str:
        name = execution_name(schedule, due)
        if ":lambda:" in schedule.target_arn:
            # A Lambda target (the onboarding sweep): invoked asynchronously, as EventBridge Scheduler does.
            if self._lambda is None:
                raise ValueError(f"schedule {schedule.name} targets a Lambda function and no Lambda client was given")
            self._lambda.invoke(FunctionName=schedule.target_arn, InvocationType="Event", Payload=schedule.input)
            logger.info("schedule %s fired (%s)", schedule.name, json.dumps({"invocation": name}))
            return name
        with contextlib.suppress(self._sfn.exceptions.ExecutionAlreadyExists):
            self._sfn.start_execution(stateMachineArn=schedule.target_arn, name=name, input=self.input_for(schedule))
        logger.info("schedule %s fired (%s)", schedule.name, json.dumps({"execution": name}))
        return name
