"""A real dunning run, measured: the state machine from statemachines/dunning.asl.json under moto, every Lambda
task routed to the real handlers in this process, over a large ledger. What it reads, writes and costs per touch,
and how long a run over many due invoices takes.

Why: the run reads the ledger every day and sends through SES; the issue's goals are reads per touch (1.0 is the
floor), at most 4 write units per touch and at most $0.005 of AWS per 1,000 touches — figures that only a real
run can give (none of them follows from the code by construction).

Setup (not measured): the emulator provisioned as `arcollect local` provisions it, the standard policy applied,
and a ledger batch-written through PynamoDB (not the importer): `run_open_invoices` open invoices over
`run_customers` customers (each with an AP email and a phone), `run_paid_invoices` paid ones, and about
`run_due_fraction` of the open invoices due on AS_OF — each at a step of the standard policy (its earlier steps
done), so a due invoice is a touch unless the run finds otherwise. The rest are due on later days.

Measured, for one run `{"as_of": AS_OF}` started like `arcollect dunning run --as-of`:
- DynamoDB items read and request units, write units with the global secondary index writes: counted at the
  emulator by benchmarks/capacity.py's meter (its docstring says how), by the handler that asked (plan,
  dispatch, finish). Statement reads are the dispatch's queries of `customer_invoices_index`.
- Step Functions transitions: the states entered in the execution's history, plus one per Distributed Map
  child (its one state, DispatchBatch: one per dispatch invocation, retries included; moto lists no children).
- Lambda: each handler invocation's wall time, at the function's memory (infra/constructs/dunning.py).
  Invocations run one at a time (a lock around the handler), so a duration is that invocation's own work and
  not its wait behind the Map's other iterations for the interpreter lock; it includes moto serving the
  invocation's requests, a stand-in for DynamoDB's and SES's latency — a poor one on a large ledger, where
  moto walks the whole table for every query, so `lambda_handler_cpu_s_per_touch` (the handlers' own thread
  CPU time, moto's work left out) is reported beside `lambda_wall_s_per_touch`; the price uses the wall time.
  Handler modules are imported before the run (cold_imports measures that); first-call initialisation is
  inside the first invocation.
- prices: benchmarks/capacity.py `Prices` (ENGINEERING.md's); SES fees reported apart.
Then a second ledger with `wall_due_invoices` due invoices (two open invoices per customer, half of them due),
and the wall time of its run: moto's and this process's work, emails rendered with their PDFs included
(0 skips it).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.capacity import (
    CapacityMeter,
    Item,
    Prices,
    RunUsage,
    TableSchema,
    Usage,
    gb_seconds,
    run_cost,
    table_schema,
    total,
)
from benchmarks.harness import REPO_ROOT, Figures, ratio
from shared.data.tables import NEXT_ACTION_SHARDS, ContactMap, CustomerRecord, InvoiceRecord, shard_of
from shared.dunning.model import PolicyFile, SendWindow, Step
from shared.dunning.policy import parse_policy_file
from shared.dunning.state import index_value

NAME = "dunning_run"
DEFAULTS: Mapping[str, float] = {
    "run_open_invoices": 100_000,
    "run_customers": 10_000,
    "run_paid_invoices": 10_000,
    "run_due_fraction": 0.01,
    "wall_due_invoices": 10_000,
}
QUICK: Mapping[str, float] = {
    "run_open_invoices": 5_000,
    "run_customers": 500,
    "run_paid_invoices": 500,
    "wall_due_invoices": 500,
}

AS_OF = date(2026, 3, 2)  # a Monday, no US holiday: every customer's window is open
STANDARD_POLICY = REPO_ROOT / "shared" / "dunning" / "standard_policy.yaml"
PORTAL = "http://portal.bench"
TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
# As infra/constructs/dunning.py deploys them.
MEMORY_MB = {"dunning_plan": 1024, "dunning_dispatch": 1024, "dunning_finish": 512}
RUN_FUNCTIONS = tuple(MEMORY_MB)
STATEMENT_TARGET = "invoices/customer_invoices_index"


# --- the ledger ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerShape:
    open_invoices: int
    customers: int
    paid_invoices: int
    due_fraction: float


@dataclass(frozen=True)
class InvoiceSpec:
    invoice_id: str
    customer: int
    amount_minor: int
    due_step: int | None  # position of the policy step due on AS_OF; None: due later
    paid: bool = False


def invoice_specs(shape: LedgerShape, steps: int, rng: random.Random) -> list[InvoiceSpec]:
    """Which invoice belongs to whom, what it is for, and which are due (a fixed share, each at a random step)."""
    due = set(rng.sample(range(shape.open_invoices), round(shape.open_invoices * shape.due_fraction)))
    specs = []
    for n in range(shape.open_invoices + shape.paid_invoices):
        paid = n >= shape.open_invoices
        specs.append(
            InvoiceSpec(
                invoice_id=f"INV-{n:07d}",
                customer=rng.randrange(shape.customers),
                amount_minor=rng.randint(5_000, 500_000),
                due_step=rng.randrange(steps) if n in due else None,
                paid=paid,
            )
        )
    return specs


def customer_id(number: int) -> str:
    return f"CUST-{number:05d}"


def write_customers(specs: list[InvoiceSpec], customers: int, now: datetime) -> None:
    open_minor: Counter[int] = Counter()
    open_count: Counter[int] = Counter()
    all_count: Counter[int] = Counter()
    for spec in specs:
        all_count[spec.customer] += 1
        if not spec.paid:
            open_minor[spec.customer] += spec.amount_minor
            open_count[spec.customer] += 1
    with CustomerRecord.batch_write() as batch:
        for n in range(customers):
            email = f"ap@customer{n}.example.com"
            record = CustomerRecord(
                customer_id(n),
                legal_name=f"Customer {n} Holdings Inc",
                country="US",
                ap_email=email,
                contacts=[ContactMap(contact_id="ap", role="ap", email=email, phone=f"+1212555{n % 10_000:04d}")],
                timezone=TIMEZONES[n % len(TIMEZONES)],
                origin="erp",
                open_minor={"USD": open_minor[n]},
                open_invoices=open_count[n],
                invoice_count=all_count[n],
                created_at=now,
                updated_at=now,
            )
            record.version = 1  # as a saved record has it: the run's claim checks the customer's version
            batch.save(record)


def write_invoices(specs: list[InvoiceSpec], steps: tuple[Step, ...], window: SendWindow, rng: random.Random) -> None:
    now = datetime.now(UTC)
    with InvoiceRecord.batch_write() as batch:
        for spec in specs:
            batch.save(invoice_record(spec, steps, window, rng, now))


def invoice_record(
    spec: InvoiceSpec, steps: tuple[Step, ...], window: SendWindow, rng: random.Random, now: datetime
) -> InvoiceRecord:
    """A paid invoice; an open one due on AS_OF at its step (the earlier steps done, on their days); or an open
    one due a later day."""
    timezone = TIMEZONES[spec.customer % len(TIMEZONES)]
    if spec.due_step is not None:
        due = AS_OF - timedelta(days=steps[spec.due_step].offset_days)
        next_day: date | None = AS_OF
    else:
        due = AS_OF + timedelta(days=rng.randint(-40, 40))
        next_day = None if spec.paid else AS_OF + timedelta(days=rng.randint(1, 60))
    record = InvoiceRecord(
        spec.invoice_id,
        customer_id=customer_id(spec.customer),
        number=spec.invoice_id.removeprefix("INV-"),
        issue_date=(due - timedelta(days=30)).isoformat(),
        due_date=due.isoformat(),
        currency="USD",
        amount_minor=spec.amount_minor,
        balance_minor=0 if spec.paid else spec.amount_minor,
        status="paid" if spec.paid else "open",
        created_at=now,
        updated_at=now,
    )
    record.version = 1
    if spec.paid:
        record.paid_on = (due - timedelta(days=2)).isoformat()
    if spec.due_step is not None and spec.due_step > 0:
        done = steps[: spec.due_step]
        record.steps_done = {step.id for step in done}
        record.touches = len(done)
        record.last_touch_on = (due + timedelta(days=done[-1].offset_days)).isoformat()
    if next_day is not None:
        record.next_action_shard = shard_of(spec.invoice_id, NEXT_ACTION_SHARDS)
        record.next_action_date = index_value(next_day, window, timezone)
    return record


def standard_policy() -> tuple[str, PolicyFile]:
    text = STANDARD_POLICY.read_text()
    return text, parse_policy_file(text)


def write_ledger(shape: LedgerShape, policy_file: PolicyFile, seed: int) -> int:
    """Writes customers and invoices; returns how many invoices are due on AS_OF."""
    policy = policy_file.policies["standard"]
    steps = tuple(sorted(policy.steps, key=lambda step: step.offset_days))
    rng = random.Random(seed)
    specs = invoice_specs(shape, len(steps), rng)
    write_customers(specs, shape.customers, datetime.now(UTC))
    write_invoices(specs, steps, policy.send_window, rng)
    return sum(1 for spec in specs if spec.due_step is not None)


# --- the system ------------------------------------------------------------------------------------------------


class HandlerTimer:
    """Wraps each routed handler: one invocation at a time, timed, with the meter told which one is asking."""

    def __init__(self, meter: CapacityMeter) -> None:
        self.meter = meter
        self.durations: dict[str, list[float]] = defaultdict(list)
        self.cpu_s = 0.0  # the handlers' own thread CPU time: what the Lambda would compute, moto's work left out
        self._lock = threading.Lock()

    def reset(self) -> None:
        self.durations.clear()
        self.cpu_s = 0.0

    def wrap(self, name: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def timed(event: Any, context: Any) -> Any:
            with self._lock:
                self.meter.phase = name
                started, cpu = time.perf_counter(), time.thread_time()
                try:
                    return handler(event, context)
                finally:
                    self.durations[name].append(time.perf_counter() - started)
                    self.cpu_s += time.thread_time() - cpu
                    self.meter.phase = "other"

        return timed


@dataclass
class BenchSystem:
    emulator: Any
    state_machine_arn: str
    meter: CapacityMeter
    timer: HandlerTimer

    def client(self, service: str) -> Any:
        return self.emulator.client(service)


def moto_fetch(region: str) -> Callable[[str, Item], Item | None]:
    """The stored item, read from moto's in-process backend (private API, moto 5.2.x): the meter's before and
    after, without a request of its own."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    def fetch(table_name: str, key: Item) -> Item | None:
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID][region].tables[table_name]
        range_key = DynamoType(dict(key[table.range_key_attr])) if table.range_key_attr else None
        item = table.get_item(DynamoType(dict(key[table.hash_key_attr])), range_key)
        return None if item is None else {name: value.to_regular_json() for name, value in item.attrs.items()}

    return fetch


def table_schemas(dynamodb: Any) -> dict[str, TableSchema]:
    names = dynamodb.list_tables()["TableNames"]
    return {name: table_schema(dynamodb.describe_table(TableName=name)["Table"]) for name in names}


@contextmanager
def running_dunning_system() -> Iterator[BenchSystem]:
    """A fresh emulator with the dunning resources and routed handlers, as tests/workflows' system is started;
    the meter in front of moto's server. Everything is put back (environment, moto) on the way out."""
    from arcollect.local import lambda_router
    from arcollect.local.dunning_resources import provision_dunning
    from arcollect.local.emulator import Emulator
    from shared.settings import runtime_settings

    saved_environment = dict(os.environ)
    # The handlers log every invocation at INFO on stdout, where the benchmark's table goes.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    emulator = Emulator()
    emulator.start()
    try:
        emulator.provision()
        emulator.export_environment(today=AS_OF.isoformat(), portal_url=PORTAL)
        deployment = emulator.deployment
        schemas = table_schemas(emulator.client("dynamodb"))
        meter = CapacityMeter(schemas, moto_fetch(deployment.region), prefix=deployment.table_prefix)
        wsgi_server = emulator._server._server  # werkzeug calls `.app` per request: the meter sees every one
        wsgi_server.app = meter.wrap(wsgi_server.app)
        timer = HandlerTimer(meter)
        handlers: dict[str, Any] = {
            name: timer.wrap(name, lambda_router.import_handler(path))
            for name, path in lambda_router.FUNCTION_HANDLERS.items()
        }
        router = lambda_router.LambdaRouter(deployment.resource_prefix, handlers)
        lambda_router.install(router)
        arns = router.provision(emulator.client("iam"), emulator.client("lambda"))
        resources = provision_dunning(emulator.client, deployment, lambda n: arns[router.function_name(n)])
        _clear_handler_caches()
        yield BenchSystem(emulator, resources.state_machine_arn, meter, timer)
    finally:
        lambda_router.uninstall()
        _reset_moto(emulator)
        emulator.stop()
        os.environ.clear()
        os.environ.update(saved_environment)
        runtime_settings.cache_clear()
        _clear_handler_caches()


def _reset_moto(emulator: Any) -> None:
    """moto's backends are process-wide: leave nothing (a ledger of 100,000 invoices) behind."""
    try:
        request = urllib.request.Request(f"{emulator.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=120).read()
    except (OSError, RuntimeError):
        pass


def _clear_handler_caches() -> None:
    """Each handler builds its services once per process (a Lambda container): a new system needs new ones."""
    import importlib

    for name in ("dunning_plan", "dunning_dispatch", "dunning_finish", "dunning_send_retry"):
        importlib.import_module(f"functions.{name}.handler").services.cache_clear()
    importlib.import_module("functions.email_feedback.handler").feedback_handler.cache_clear()


def apply_standard_policy(text: str, policy_file: PolicyFile) -> None:
    from shared.dunning.policy_store import PolicyStore

    PolicyStore().apply(policy_file, text, "benchmark", datetime.combine(AS_OF, datetime.min.time(), UTC))


# --- one run -----------------------------------------------------------------------------------------------------


@dataclass
class RunOutcome:
    wall_s: float
    output: dict[str, Any]
    usage: dict[str, Usage]  # by handler
    durations: dict[str, list[float]]
    handler_cpu_s: float
    parent_transitions: int
    map_items: int
    emails_at_ses: int
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def touches(self) -> int:
        return int(self.counts.get("touched") or 0)

    @property
    def emails(self) -> int:
        return int((self.counts.get("sent") or {}).get("email") or 0)

    @property
    def transitions(self) -> int:
        return self.parent_transitions + len(self.durations.get("dunning_dispatch", []))


def run_day(system: BenchSystem, due: int) -> RunOutcome:
    sfn = system.client("stepfunctions")
    ses = system.client("ses")
    sent_before = int(ses.get_send_quota()["SentLast24Hours"])
    system.meter.reset()
    system.timer.reset()
    system.meter.enabled = True
    started = time.perf_counter()
    execution_arn = sfn.start_execution(
        stateMachineArn=system.state_machine_arn,
        name=f"bench-{uuid.uuid4().hex[:12]}",
        input=json.dumps({"as_of": AS_OF.isoformat(), "trigger": "benchmark"}),
    )["executionArn"]
    described = wait_for(sfn, execution_arn, timeout=600 + 2 * due)
    wall = time.perf_counter() - started
    system.meter.enabled = False
    if described["status"] != "SUCCEEDED":
        raise AssertionError(f"the run ended {described['status']}: {described.get('error')} {described.get('cause')}")
    output = json.loads(described["output"])
    history = sfn.get_execution_history(executionArn=execution_arn)["events"]
    map_runs = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    map_items = sum(int(sfn.describe_map_run(mapRunArn=run["mapRunArn"])["itemCounts"]["total"]) for run in map_runs)
    return RunOutcome(
        wall_s=wall,
        output=output,
        usage=dict(system.meter.usage),
        durations={name: list(times) for name, times in system.timer.durations.items()},
        handler_cpu_s=system.timer.cpu_s,
        parent_transitions=sum(1 for event in history if event["type"].endswith("StateEntered")),
        map_items=map_items,
        emails_at_ses=int(ses.get_send_quota()["SentLast24Hours"]) - sent_before,
        counts=dict(output.get("counts") or {}),
    )


def wait_for(sfn: Any, execution_arn: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return dict(described)
        if time.monotonic() > deadline:
            raise AssertionError(f"the run did not finish within {timeout:.0f} s")
        time.sleep(0.25)


def measured_run(shape: LedgerShape, seed: int) -> tuple[RunOutcome, int, float]:
    """Writes the ledger into a fresh system and runs AS_OF once: (outcome, due invoices, setup seconds)."""
    text, policy_file = standard_policy()
    with running_dunning_system() as system:
        started = time.perf_counter()
        apply_standard_policy(text, policy_file)
        due = write_ledger(shape, policy_file, seed)
        setup_s = time.perf_counter() - started
        outcome = run_day(system, due)
    if outcome.touches == 0 or outcome.emails_at_ses != outcome.emails:
        raise AssertionError(
            f"the run touched {outcome.touches} of {due} due invoices and SES saw {outcome.emails_at_ses} of "
            f"{outcome.emails} emails: {outcome.counts}"
        )
    return outcome, due, setup_s


# --- figures ---------------------------------------------------------------------------------------------------------


def run_usage(outcome: RunOutcome) -> RunUsage:
    usage = total(outcome.usage.get(name, Usage()) for name in RUN_FUNCTIONS)
    return RunUsage(
        read_units=usage.total_read_units,
        write_units=usage.total_write_units,
        state_transitions=outcome.transitions,
        lambda_gb_seconds=sum(gb_seconds(outcome.durations.get(n, []), MEMORY_MB[n]) for n in RUN_FUNCTIONS),
        lambda_invocations=sum(len(outcome.durations.get(n, [])) for n in RUN_FUNCTIONS),
        emails=outcome.emails,
    )


def cost_figures(outcome: RunOutcome, prices: Prices = Prices()) -> Figures:
    usage = run_usage(outcome)
    cost = run_cost(usage, prices)
    per_1000 = 1000 / outcome.touches
    return {
        "cost_per_1000_touches": cost.aws * per_1000,
        "cost_per_1000_touches.dynamodb": cost.dynamodb * per_1000,
        "cost_per_1000_touches.lambda": cost.lambda_ * per_1000,
        "cost_per_1000_touches.step_functions": cost.step_functions * per_1000,
        "ses_fees_per_1000_touches": cost.ses * per_1000,
        "lambda_gb_s_per_1000_touches": usage.lambda_gb_seconds * per_1000,
        "lambda_wall_s_per_touch": sum(sum(outcome.durations.get(n, [])) for n in RUN_FUNCTIONS) / outcome.touches,
        "lambda_handler_cpu_s_per_touch": outcome.handler_cpu_s / outcome.touches,
        "state_transitions_per_1000_touches": usage.state_transitions * per_1000,
    }


def read_write_figures(outcome: RunOutcome, due: int) -> Figures:
    phases = {name: outcome.usage.get(name, Usage()) for name in RUN_FUNCTIONS}
    run = total(phases.values())
    touches = outcome.touches
    dispatch = phases["dunning_dispatch"]
    statement = dispatch.items_read.get(STATEMENT_TARGET, 0)
    figures: Figures = {
        "reads_per_due_action": ratio(run.total_items_read, touches),
        "read_units_per_touch": ratio(run.total_read_units, touches),
        "plan_reads_per_due_invoice": ratio(phases["dunning_plan"].total_items_read, due),
        "dispatch_reads_per_touch": ratio(dispatch.total_items_read - statement, touches),
        "statement_reads_per_email": ratio(statement, outcome.emails) if outcome.emails else 0.0,
        "finish_reads": phases["dunning_finish"].total_items_read,
        "writes_per_touch": ratio(run.total_write_units, touches),
        "index_writes_per_touch": ratio(sum(run.index_write_units.values()), touches),
        "items_written_per_touch": ratio(sum(run.items_written.values()), touches),
        "dynamodb_requests_per_touch": ratio(sum(run.requests.values()), touches),
        "dynamodb_failed_requests": run.failed_requests,
        # What no run function asked for (nothing should: the figures above leave it out).
        "dynamodb_requests_outside_handlers": sum(
            sum(usage.requests.values()) for name, usage in outcome.usage.items() if name not in RUN_FUNCTIONS
        ),
    }
    for target, items in sorted(run.items_read.items()):
        figures[f"run_items_read.{target}"] = items
    for target, units in sorted((run.write_units + run.index_write_units).items()):
        figures[f"run_write_units.{target}"] = units
    return figures


def run(params: Mapping[str, float]) -> Figures:
    shape = LedgerShape(
        open_invoices=int(params["run_open_invoices"]),
        customers=int(params["run_customers"]),
        paid_invoices=int(params["run_paid_invoices"]),
        due_fraction=float(params["run_due_fraction"]),
    )
    outcome, due, setup_s = measured_run(shape, seed=20260302)
    tasks = sum((outcome.counts.get("tasks") or {}).values())
    figures: Figures = {
        "dunning_run_open_invoices": shape.open_invoices,
        "dunning_run_due_invoices": due,
        "dunning_run_touches": outcome.touches,
        "dunning_run_customers": int(outcome.counts.get("customers") or 0),
        "dunning_run_emails": outcome.emails,
        "dunning_run_sms": int((outcome.counts.get("sent") or {}).get("sms") or 0),
        "dunning_run_tasks": tasks,
        "dunning_run_failed": int(outcome.counts.get("failed") or 0),
        "dunning_run_map_items": outcome.map_items,
        "dunning_run_setup_s": setup_s,
        "dunning_run_large_ledger_wall_s": outcome.wall_s,
    }
    figures |= read_write_figures(outcome, due)
    figures |= cost_figures(outcome)
    wall_due = int(params["wall_due_invoices"])
    if wall_due > 0:
        figures |= wall_figures(wall_due)
    return figures


def wall_figures(due_invoices: int) -> Figures:
    shape = LedgerShape(open_invoices=2 * due_invoices, customers=due_invoices, paid_invoices=0, due_fraction=0.5)
    outcome, due, _ = measured_run(shape, seed=20260303)
    return {
        "dunning_run_wall_s": outcome.wall_s,
        "dunning_run_wall_due_invoices": due,
        "dunning_run_wall_touches": outcome.touches,
        "dunning_run_wall_emails": outcome.emails,
        "dunning_run_s_per_touch": ratio(outcome.wall_s, outcome.touches),
    }
