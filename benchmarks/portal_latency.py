"""Portal API latency: each customer route's p50 and p99, in-process against moto, as a ratio to `GET /health`'s
p50 measured in the same run; the session authorizer's own p50 and p99 beside them; and the DynamoDB requests,
items read and write units each route costs.

Why: every portal page waits on these routes, each behind the authorizer (ENGINEERING.md: "Portal API latency
p50/p99 in-process against moto, as a ratio to GET /health"). /health goes through the same function and
Powertools resolver but touches nothing, so the ratio is what a route adds over the bare function; on a shared,
noisy machine only such a ratio, measured in one run, compares across runs. The counts are not noisy: a route
that starts reading the customer's whole ledger, or a GET that starts writing, shows there first.

Setup (not measured): the emulator as `arcollect local` provisions it (its tables, TIN keys and a link-signing
secret), and a ledger imported through the importer: `portal_customers` customers (each with a TIN) with
`portal_invoices_per_customer` invoices each, about a third of them paid. The measured customer signs in from a
portal link (`open_session`) and leaves `portal_seed_notes` notes on its open invoices, so its timeline and
invoice detail have something to show; a second customer's session posts the measured notes, so the measured
customer's pages stay the same size throughout.

Measured: API Gateway REST proxy events (as the local gateway builds them) handed to `functions.api.handler`;
for a customer route the gateway's authorizer step first (`functions.portal_authorizer.handler` with the
Bearer token, its policy checked, its context put in the event). A route's time is the authorizer's plus the
function's: what the gateway waits for. `portal_rounds` rounds after a few warm-up rounds; each round calls
/health and every route once, in a shuffled order, so machine noise hits all alike; every answer must have its
expected status. Then one more round with a meter in front of moto (benchmarks/capacity.py) counting what each
route and the authorizer ask of DynamoDB; counts are by invocation, the authorizer's apart from the route's.
Times include moto serving each request over HTTP on this machine, a stand-in for DynamoDB's latency.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.capacity import CapacityMeter, Usage
from benchmarks.harness import Figures, ratio

NAME = "portal_latency"
DEFAULTS: Mapping[str, float] = {
    "portal_customers": 200,
    "portal_invoices_per_customer": 10,
    "portal_seed_notes": 20,
    "portal_rounds": 300,
}
QUICK: Mapping[str, float] = {"portal_customers": 20, "portal_rounds": 40}

WARM_UP_ROUNDS = 5
PORTAL = "http://portal.bench"
HEALTH = "health"
AUTHORIZER = "authorizer"
PAID_EVERY = 3  # every third invoice of a customer is paid
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


# --- the figures -----------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolating between the closest ranks (numpy's default, "linear")."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    below, above = math.floor(position), math.ceil(position)
    return float(ordered[below] + (ordered[above] - ordered[below]) * (position - below))


def latency_figures(
    routes: Mapping[str, Sequence[float]], authorizer: Sequence[float], health: Sequence[float]
) -> Figures:
    """Each route's p50 and p99 (seconds, authorizer included) and the authorizer's own, as ratios to the
    p50 of /health; the worst route's; and /health's p50 itself in milliseconds, for information."""
    base = percentile(health, 50)
    figures: Figures = {"portal_health_p50_ms": base * 1000}
    for name, times in routes.items():
        figures[f"portal_p50_ratio.{name}"] = ratio(percentile(times, 50), base)
        figures[f"portal_p99_ratio.{name}"] = ratio(percentile(times, 99), base)
    figures["portal_p50_ratio_max"] = max(figures[f"portal_p50_ratio.{name}"] for name in routes)
    figures["portal_p99_ratio_max"] = max(figures[f"portal_p99_ratio.{name}"] for name in routes)
    figures["portal_authorizer_p50_ratio"] = ratio(percentile(authorizer, 50), base)
    figures["portal_authorizer_p99_ratio"] = ratio(percentile(authorizer, 99), base)
    return figures


def count_figures(usage: Mapping[str, Usage], invocations: Mapping[str, int]) -> Figures:
    """DynamoDB requests, items read and write units (index writes included) per invocation of each phase (a
    route, or the authorizer, which ran once per customer route); a phase that asked nothing counts 0."""
    figures: Figures = {}
    for phase, count in invocations.items():
        used = usage.get(phase, Usage())
        if used.failed_requests:
            raise AssertionError(f"{phase}: {used.failed_requests} DynamoDB requests failed")
        figures[f"portal_dynamodb_requests.{phase}"] = ratio(sum(used.requests.values()), count)
        figures[f"portal_items_read.{phase}"] = ratio(used.total_items_read, count)
        figures[f"portal_write_units.{phase}"] = ratio(used.total_write_units, count)
    return figures


# --- the ledger ------------------------------------------------------------------------------------------------


def customer_id(number: int) -> str:
    return f"PORTAL-{number:05d}"


def invoice_id(customer: int, number: int) -> str:
    return f"PI-{customer:05d}-{number:03d}"


def customers_csv(customers: int) -> str:
    lines = ["customer_id,legal_name,country,ap_email,phone,timezone,currency,terms_days,tin_type,tin"]
    for n in range(customers):
        lines.append(
            f"{customer_id(n)},Portal Customer {n} Inc,US,ap@portal{n}.example.com,+1212555{n % 10_000:04d},"
            f"America/New_York,USD,30,ein,{10 + n % 89:02d}-{1_000_000 + n:07d}"
        )
    return "\n".join(lines) + "\n"


def invoices_csv(customers: int, per_customer: int, today: date) -> str:
    """Each customer's invoices, issued a week apart back from today, due in 30 days; every PAID_EVERY-th paid."""
    lines = ["invoice_id,customer_id,number,issue_date,due_date,currency,amount,balance,po_number"]
    for c in range(customers):
        for n in range(per_customer):
            issued = today - timedelta(days=7 * (n + 1))
            amount = f"{100 + (c * 37 + n * 11) % 9_000}.{n % 100:02d}"
            balance = "0" if n % PAID_EVERY == PAID_EVERY - 1 else amount
            lines.append(
                f"{invoice_id(c, n)},{customer_id(c)},{c * 1000 + n},{issued.isoformat()},"
                f"{(issued + timedelta(days=30)).isoformat()},USD,{amount},{balance},PO-{n}"
            )
    return "\n".join(lines) + "\n"


def open_invoice_ids(customer: int, per_customer: int) -> list[str]:
    return [invoice_id(customer, n) for n in range(per_customer) if n % PAID_EVERY != PAID_EVERY - 1]


# --- the calls -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str
    expect: int
    token: str | None = field(default=None, repr=False)  # a session token: the call goes through the authorizer
    body: Mapping[str, Any] | None = None


def portal_calls(session: str, invoice: str, note_session: str, note_invoice: str) -> list[Call]:
    """/health and the customer routes measured. Notes go to another customer's invoice, so the measured
    customer's timeline and invoice detail do not grow while they are timed."""
    return [
        Call(HEALTH, "GET", "/health", 200),
        Call("me", "GET", "/portal/me", 200, session),
        Call("invoices", "GET", "/portal/invoices", 200, session),
        Call("invoice", "GET", f"/portal/invoices/{invoice}", 200, session),
        Call("statement", "GET", "/portal/statement", 200, session),
        Call("timeline", "GET", "/portal/timeline", 200, session),
        Call("note", "POST", f"/portal/invoices/{note_invoice}/notes", 201, note_session, {"text": "Paying Friday."}),
    ]


@dataclass
class PortalApi:
    """The gateway's two steps for one request, in this process: the authorizer, then the API function."""

    api: Handler
    authorizer: Handler
    region: str
    account_id: str
    stage: str
    meter: CapacityMeter

    def event(self, call: Call) -> dict[str, Any]:
        from werkzeug.test import EnvironBuilder
        from werkzeug.wrappers import Request

        from arcollect.local.proxy_event import request_to_event

        builder = EnvironBuilder(
            path=call.path,
            method=call.method,
            base_url="http://127.0.0.1",
            data=json.dumps(call.body) if call.body is not None else None,
            content_type="application/json" if call.body is not None else None,
            headers=[("Authorization", f"Bearer {call.token}")] if call.token else None,
        )
        return request_to_event(Request(builder.get_environ()), self.stage, self.account_id)

    def context(self, function: str) -> Any:
        from arcollect.local.lambda_context import LocalLambdaContext

        name = f"arcollect-bench-{function}"
        return LocalLambdaContext(name, f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}")

    def call(self, call: Call) -> tuple[float, float]:
        """(the authorizer's seconds, the function's); raises unless the answer has the expected status."""
        from arcollect.local import authorizer

        event = self.event(call)
        authorizer_s = 0.0
        if call.token is not None:
            arn = authorizer.method_arn(self.region, self.account_id, self.stage, call.method, call.path)
            context = self.context(AUTHORIZER)
            self.meter.phase = AUTHORIZER
            started = time.perf_counter()
            decision = authorizer.authorize(self.authorizer, context, f"Bearer {call.token}", arn)
            authorizer_s = time.perf_counter() - started
            if decision.refusal is not None:
                raise AssertionError(f"{call.name}: the authorizer refused ({decision.refusal.status})")
            event["requestContext"]["authorizer"] = decision.context
        context = self.context("api")
        self.meter.phase = call.name
        started = time.perf_counter()
        result = self.api(event, context)
        function_s = time.perf_counter() - started
        self.meter.phase = "other"
        if result.get("statusCode") != call.expect:
            raise AssertionError(f"{call.name}: {result.get('statusCode')} where {call.expect} was expected")
        return authorizer_s, function_s


# --- the system ------------------------------------------------------------------------------------------------


@contextmanager
def running_portal_system() -> Iterator[PortalApi]:
    """A fresh emulator, provisioned as `arcollect local` provisions it (plus the link-signing secret), this
    process's environment pointed at it, a meter (off) in front of it; everything put back on the way out."""
    from moto.core import DEFAULT_ACCOUNT_ID

    from arcollect.local.emulator import Emulator
    from benchmarks.dunning_run import moto_fetch, table_schemas
    from shared.security.links import new_secret_value
    from shared.settings import runtime_settings

    saved_environment = dict(os.environ)
    # The handlers log at INFO on stdout, where the benchmark's table goes.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    emulator = Emulator()
    emulator.start()
    try:
        emulator.provision()
        settings = emulator.export_environment(portal_url=PORTAL)
        assert settings.link_secret_id is not None
        secrets = emulator.client("secretsmanager")
        secrets.create_secret(Name=settings.link_secret_id, SecretString=new_secret_value("k1"))
        deployment = emulator.deployment
        meter = CapacityMeter(
            table_schemas(emulator.client("dynamodb")), moto_fetch(deployment.region), prefix=deployment.table_prefix
        )
        wsgi_server = emulator._server._server  # werkzeug calls `.app` per request: the meter sees every one
        wsgi_server.app = meter.wrap(wsgi_server.app)
        from functions.api.handler import handler as api
        from functions.portal_authorizer.handler import handler as authorizer

        yield PortalApi(api, authorizer, deployment.region, DEFAULT_ACCOUNT_ID, deployment.stage, meter)
    finally:
        _reset_moto(emulator.endpoint_url)
        emulator.stop()
        os.environ.clear()
        os.environ.update(saved_environment)
        runtime_settings.cache_clear()
        from shared.portal.service import portal_services

        portal_services.cache_clear()


def _reset_moto(endpoint_url: str) -> None:
    """moto's backends are process-wide: leave no ledger behind for the next benchmark."""
    try:
        request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=120).read()
    except (OSError, RuntimeError):
        pass


def import_ledger(customers: int, per_customer: int, today: date) -> None:
    from shared.ledger.importer import build_importer
    from shared.settings import runtime_settings

    importer = build_importer(runtime_settings())
    for kind, text in (
        ("customers", customers_csv(customers)),
        ("invoices", invoices_csv(customers, per_customer, today)),
    ):
        report = importer.import_file(kind, text.encode(), source=f"bench-{kind}.csv")  # type: ignore[arg-type]
        if report.rejected:
            raise AssertionError(f"the {kind} import rejected {report.rejected} rows")


def sign_in(customer: str) -> str:
    """A session token, as the page gets one from a reminder's link."""
    from shared.portal.access import issue_portal_link, open_session
    from shared.portal.service import portal_services

    services = portal_services()
    link = issue_portal_link(customer, services.clock(), services.signer, PORTAL)
    return open_session(link.link_token, services.signer, services.clock()).session_token


# --- the run ---------------------------------------------------------------------------------------------------


def run(params: Mapping[str, float]) -> Figures:
    with running_portal_system() as portal:
        return _measure(portal, params)


def _measure(portal: PortalApi, params: Mapping[str, float]) -> Figures:
    customers, per_customer = int(params["portal_customers"]), int(params["portal_invoices_per_customer"])
    if customers < 2 or per_customer < 1:
        raise ValueError("the portal benchmark needs at least 2 customers with an invoice each")
    import_ledger(customers, per_customer, datetime.now(UTC).date())
    measured, noting = 0, customers - 1
    session, note_session = sign_in(customer_id(measured)), sign_in(customer_id(noting))
    opened = open_invoice_ids(measured, per_customer)
    for n in range(int(params["portal_seed_notes"])):
        path = f"/portal/invoices/{opened[n % len(opened)]}/notes"
        portal.call(Call("seed", "POST", path, 201, session, {"text": f"Note {n}: see attached remittance."}))
    calls = portal_calls(session, opened[0], note_session, open_invoice_ids(noting, per_customer)[0])

    rng = random.Random(7)
    totals: dict[str, list[float]] = {call.name: [] for call in calls}
    authorizer_s: list[float] = []
    for round_number in range(WARM_UP_ROUNDS + int(params["portal_rounds"])):
        rng.shuffle(calls)
        for call in calls:
            before, during = portal.call(call)
            if round_number >= WARM_UP_ROUNDS:
                totals[call.name].append(before + during)
                if call.token is not None:
                    authorizer_s.append(before)

    portal.meter.reset()
    portal.meter.enabled = True
    try:
        for call in calls:
            portal.call(call)
    finally:
        portal.meter.enabled = False
    health = totals.pop(HEALTH)
    invocations = {AUTHORIZER: sum(1 for call in calls if call.token is not None)}
    invocations |= {call.name: 1 for call in sorted(calls, key=lambda call: call.name) if call.name != HEALTH}
    return (
        latency_figures({name: totals[name] for name in sorted(totals)}, authorizer_s, health)
        | count_figures(portal.meter.usage, invocations)
        | {"portal_ledger_invoices": customers * per_customer}
    )
