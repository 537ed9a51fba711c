"""The local system's EventBridge Scheduler (arcollect/local/scheduler.py): moto stores schedules and never
fires them, so this thread does. It must fire each due time once, whatever its own cadence, name each fire so
that a second look cannot start it twice, and refuse the expressions it does not run rather than never firing
them."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcollect.local.emulator import Emulator
from arcollect.local.scheduler import LocalScheduler, Schedule, execution_name

UTC = dt.UTC
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:target"
EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def schedule(expression: str, name: str = "dunning-hourly") -> Schedule:
    return Schedule(name=name, expression=expression, target_arn=ARN, input='{"trigger": "schedule"}')


# --- expressions -------------------------------------------------------------------------------------------------


def test_an_hourly_cron_fires_on_its_minute_every_hour_after_the_start_up_to_the_end() -> None:
    hourly = schedule("cron(0 * * * ? *)")
    assert hourly.fires_between(at(2, 10), at(2, 13, 30)) == [at(2, 11), at(2, 12), at(2, 13)]


def test_a_cron_with_a_fixed_hour_fires_once_a_day() -> None:
    daily = schedule("cron(30 6 * * ? *)")
    assert daily.fires_between(at(2, 0), at(4, 0)) == [at(2, 6, 30), at(3, 6, 30)]


def test_a_rate_in_minutes_fires_on_multiples_of_its_period() -> None:
    quarterly = schedule("rate(15 minutes)")
    assert quarterly.fires_between(at(2, 10, 7), at(2, 11)) == [at(2, 10, 15), at(2, 10, 30), at(2, 10, 45), at(2, 11)]


@pytest.mark.parametrize("expression", ["rate(1 hour)", "rate(1 hours)", "rate(60 minutes)"])
def test_a_rate_of_an_hour_fires_on_the_hour_however_it_is_spelt(expression: str) -> None:
    assert schedule(expression).fires_between(at(2, 9, 59), at(2, 12)) == [at(2, 10), at(2, 11), at(2, 12)]


def test_nothing_fires_in_an_empty_interval() -> None:
    assert schedule("cron(0 * * * ? *)").fires_between(at(2, 10), at(2, 10)) == []


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0/5 * * * ? *)",  # increments
        "cron(0 12 ? * MON-FRI *)",  # days of the week
        "cron(0 12 * * ? 2027)",  # a year
        "rate(1 day)",
        "at(2026-03-02T10:00:00)",  # one-time schedules
        "cron(60 * * * ? *)",  # no minute 60
        "cron(0 24 * * ? *)",  # no hour 24: it would never fire
        "rate(0 minutes)",
    ],
)
def test_an_expression_the_local_scheduler_does_not_run_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="not an expression the local scheduler runs"):
        schedule(expression).fires_between(at(2, 0), at(3, 0))


EXPRESSIONS = st.sampled_from(
    ["cron(0 * * * ? *)", "cron(17 * * * ? *)", "cron(45 13 * * ? *)", "rate(5 minutes)", "rate(2 hours)"]
)


@EXAMPLES
@given(
    expression=EXPRESSIONS,
    start_minute=st.integers(0, 24 * 60),
    ticks=st.lists(st.integers(0, 5 * 60), min_size=1, max_size=12),
)
def test_each_due_time_fires_once_whatever_the_ticks_cadence(
    expression: str, start_minute: int, ticks: list[int]
) -> None:
    """Ticking from `start` through successive instants fires what one look over the whole span fires, each
    due time once."""
    chosen = schedule(expression)
    start = at(2, 0) + dt.timedelta(minutes=start_minute)
    moments = [start + dt.timedelta(minutes=m) for m in sorted(ticks)]
    fired: list[dt.datetime] = []
    for earlier, later in itertools.pairwise([start, *moments]):
        fired.extend(chosen.fires_between(earlier, later))
    assert fired == chosen.fires_between(start, moments[-1])
    assert len(fired) == len(set(fired))


# --- fires and their names -----------------------------------------------------------------------------------


def test_each_fire_of_a_schedule_has_its_own_execution_name() -> None:
    longest = schedule("rate(1 minute)", name="d" * 64)  # EventBridge Scheduler's longest name
    names = {execution_name(longest, at(2, 10) + dt.timedelta(minutes=m)) for m in range(120)}
    assert len(names) == 120
    assert all(len(n) <= 80 for n in names)  # Step Functions' limit


def test_a_fire_is_named_by_its_schedule_and_due_time_so_a_second_look_names_it_alike() -> None:
    hourly = schedule("cron(0 * * * ? *)")
    assert execution_name(hourly, at(2, 11)) == execution_name(hourly, at(2, 11)) == "dunning-hourly-20260302T1100"
    assert execution_name(hourly, at(2, 11)) != execution_name(schedule("cron(0 * * * ? *)", "other"), at(2, 11))


class FakeScheduler:
    """The two calls the local scheduler makes of EventBridge Scheduler."""

    def __init__(self, schedules: list[dict[str, Any]]) -> None:
        self.schedules = {s["Name"]: s for s in schedules}

    def list_schedules(self, GroupName: str) -> dict[str, Any]:
        return {"Schedules": [{"Name": name} for name in self.schedules]}

    def get_schedule(self, GroupName: str, Name: str) -> dict[str, Any]:
        return self.schedules[Name]


class ExecutionAlreadyExists(Exception):
    pass


class FakeStepFunctions:
    """Step Functions' start_execution: a name is taken once."""

    class exceptions:
        ExecutionAlreadyExists = ExecutionAlreadyExists

    def __init__(self) -> None:
        self.started: list[tuple[str, str, str]] = []

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        if any(started[1] == name for started in self.started):
            raise ExecutionAlreadyExists(name)
        self.started.append((stateMachineArn, name, input))
        return {"executionArn": f"{stateMachineArn}:{name}"}


def fake_schedule(name: str, expression: str, state: str = "ENABLED") -> dict[str, Any]:
    target = {"Arn": ARN, "RoleArn": "arn:aws:iam::123456789012:role/r", "Input": json.dumps({"trigger": name})}
    return {"Name": name, "ScheduleExpression": expression, "State": state, "Target": target}


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_a_tick_starts_each_fire_due_since_the_last_tick_once() -> None:
    clock = Clock(at(2, 10, 30))
    sfn = FakeStepFunctions()
    local = LocalScheduler(FakeScheduler([fake_schedule("hourly", "cron(0 * * * ? *)")]), sfn, "g", now=clock)
    clock.now = at(2, 12, 5)
    assert local.tick() == ["hourly-20260302T1100", "hourly-20260302T1200"]
    assert local.tick() == []  # nothing fell due since
    assert [(name, json.loads(payload)) for _, name, payload in sfn.started] == [
        ("hourly-20260302T1100", {"trigger": "hourly"}),
        ("hourly-20260302T1200", {"trigger": "hourly"}),
    ]


def test_under_a_fixed_today_every_fire_plans_for_that_day() -> None:
    clock = Clock(at(2, 10, 30))
    sfn = FakeStepFunctions()
    schedules = [fake_schedule("hourly", "cron(0 * * * ? *)")]
    local = LocalScheduler(FakeScheduler(schedules), sfn, "g", now=clock, today=dt.date(2026, 3, 2))
    clock.now = at(2, 11, 5)
    local.tick()
    assert [json.loads(payload) for _, _, payload in sfn.started] == [{"trigger": "hourly", "as_of": "2026-03-02"}]


def test_a_fire_whose_input_names_its_day_keeps_it_under_a_fixed_today() -> None:
    sfn = FakeStepFunctions()
    local = LocalScheduler(FakeScheduler([]), sfn, "g", now=Clock(at(2, 10)), today=dt.date(2026, 3, 2))
    named = Schedule("catch-up", "cron(0 * * * ? *)", ARN, '{"as_of": "2026-02-27"}')
    local.fire(named, at(2, 11))
    assert json.loads(sfn.started[0][2]) == {"as_of": "2026-02-27"}


def test_firing_a_due_time_twice_starts_one_execution() -> None:
    sfn = FakeStepFunctions()
    local = LocalScheduler(FakeScheduler([]), sfn, "g", now=Clock(at(2, 10)))
    hourly = schedule("cron(0 * * * ? *)")
    assert local.fire(hourly, at(2, 11)) == local.fire(hourly, at(2, 11))
    assert len(sfn.started) == 1


def test_a_disabled_schedule_never_fires() -> None:
    clock = Clock(at(2, 10))
    sfn = FakeStepFunctions()
    local = LocalScheduler(FakeScheduler([fake_schedule("off", "rate(5 minutes)", "DISABLED")]), sfn, "g", now=clock)
    clock.now = at(2, 12)
    assert (local.tick(), sfn.started) == ([], [])


def test_an_unsupported_schedule_does_not_stop_the_others_from_firing() -> None:
    clock = Clock(at(2, 10, 30))
    sfn = FakeStepFunctions()
    schedules = [fake_schedule("broken", "rate(1 day)"), fake_schedule("hourly", "cron(0 * * * ? *)")]
    local = LocalScheduler(FakeScheduler(schedules), sfn, "g", now=clock)
    clock.now = at(2, 11, 5)
    local.tick()
    assert [name for _, name, _ in sfn.started] == ["hourly-20260302T1100"]


# --- against moto's scheduler and Step Functions -------------------------------------------------------------------


@pytest.fixture
def scheduled(emulator: Emulator) -> Iterator[tuple[Emulator, str]]:
    """A trivial state machine, and an hourly schedule targeting it, created as the system creates its own."""
    sfn = emulator.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    machine = sfn.create_state_machine(
        name="scheduled-target", definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    scheduler = emulator.client("scheduler")
    scheduler.create_schedule_group(Name="tests")
    for name, state in (("hourly", "ENABLED"), ("paused", "DISABLED")):
        scheduler.create_schedule(
            GroupName="tests",
            Name=name,
            ScheduleExpression="cron(0 * * * ? *)",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": machine,
                "RoleArn": "arn:aws:iam::123456789012:role/sfn",
                "Input": '{"trigger": "schedule"}',
            },
            State=state,
        )
    yield emulator, machine


def test_the_local_scheduler_starts_the_target_of_a_schedule_moto_keeps_once_per_due_time(
    scheduled: tuple[Emulator, str],
) -> None:
    emulator, machine = scheduled
    sfn = emulator.client("stepfunctions")
    clock = Clock(at(2, 10, 59))
    local = LocalScheduler(emulator.client("scheduler"), sfn, "tests", now=clock)
    clock.now = at(2, 11, 1)
    local.tick()
    local.fire(Schedule("hourly", "cron(0 * * * ? *)", machine, "{}"), at(2, 11))  # a second look at 11:00
    local.tick()
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == ["hourly-20260302T1100"]
    (execution,) = executions
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"trigger": "schedule"}
