"""The portal benchmark's pure parts: percentiles and ratios, the counts per invocation, the generated ledger, the
calls it times and the gateway steps it drives (with stand-in functions: no moto, no timing asserted)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date
from typing import Any

import pytest

from benchmarks import cold_imports, portal_latency
from benchmarks.capacity import CapacityMeter, Usage
from benchmarks.portal_latency import Call, PortalApi, count_figures, latency_figures, percentile

ALLOW_ALL = {
    "principalId": "PORTAL-00000",
    "policyDocument": {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]},
    "context": {"customer_id": "PORTAL-00000", "session_id": "S1"},
}


def _portal(api: Any, authorizer: Any) -> PortalApi:
    meter = CapacityMeter({}, lambda table, key: None)
    return PortalApi(api, authorizer, "us-east-1", "123456789012", "local", meter)


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.5
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert (percentile(values, 0), percentile(values, 100)) == (1.0, 100.0)
    assert percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("q", [-1, 100.5])
def test_a_percentile_outside_0_to_100_is_an_error(q: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], q)


def test_a_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


def test_route_latencies_are_ratios_to_the_median_health_call() -> None:
    # Given /health answering in 1 ms at the median, and two routes, one slower in its tail
    health = [0.001, 0.001, 0.002, 0.0005, 0.001]
    routes = {"me": [0.010] * 99 + [0.050], "statement": [0.020] * 100}
    # When the figures are computed
    figures = latency_figures(routes, authorizer=[0.004] * 50, health=health)
    # Then each is a multiple of /health's median, and the worst route's is reported apart
    assert figures["portal_health_p50_ms"] == pytest.approx(1.0)
    assert figures["portal_p50_ratio.me"] == pytest.approx(10.0)
    assert figures["portal_p99_ratio.me"] == pytest.approx(10.0 + 40.0 * 0.01)
    assert figures["portal_p50_ratio.statement"] == pytest.approx(20.0)
    assert figures["portal_p50_ratio_max"] == pytest.approx(20.0)
    assert figures["portal_p99_ratio_max"] == pytest.approx(20.0)
    assert figures["portal_authorizer_p50_ratio"] == pytest.approx(4.0)


def test_a_slower_route_shows_as_a_larger_ratio() -> None:
    health = [0.001] * 10
    before = latency_figures({"me": [0.01] * 10}, [0.004] * 10, health)
    after = latency_figures({"me": [0.03] * 10}, [0.004] * 10, health)
    assert after["portal_p50_ratio.me"] == pytest.approx(3 * before["portal_p50_ratio.me"])


def test_counts_are_per_invocation_and_a_phase_that_asked_nothing_counts_zero() -> None:
    authorizer = Usage()
    authorizer.requests.update({"GetItem": 12})
    authorizer.items_read.update({"sessions": 6, "customers": 6})
    note = Usage()
    note.requests.update({"GetItem": 1, "PutItem": 1})
    note.items_read.update({"invoices": 1})
    note.write_units.update({"activities": 1})
    note.index_write_units.update({"activities/by_invoice": 1})
    usage = {"authorizer": authorizer, "note": note}

    figures = count_figures(usage, {"authorizer": 6, "note": 1, "me": 1})

    assert figures["portal_dynamodb_requests.authorizer"] == 2
    assert figures["portal_items_read.authorizer"] == 2
    assert figures["portal_dynamodb_requests.note"] == 2 and figures["portal_write_units.note"] == 2
    assert (figures["portal_dynamodb_requests.me"], figures["portal_items_read.me"]) == (0, 0)


def test_a_failed_dynamodb_request_fails_the_benchmark() -> None:
    failed = Usage(failed_requests=1)
    with pytest.raises(AssertionError, match="me"):
        count_figures({"me": failed}, {"me": 1})


def test_the_ledger_gives_each_customer_its_invoices_a_third_of_them_paid() -> None:
    today = date(2026, 3, 2)
    customers = list(csv.DictReader(io.StringIO(portal_latency.customers_csv(4))))
    invoices = list(csv.DictReader(io.StringIO(portal_latency.invoices_csv(4, 9, today))))

    assert [c["customer_id"] for c in customers] == [portal_latency.customer_id(n) for n in range(4)]
    assert all(c["tin"] and c["ap_email"] for c in customers)
    assert Counter(i["customer_id"] for i in invoices) == {portal_latency.customer_id(n): 9 for n in range(4)}
    assert len({i["invoice_id"] for i in invoices}) == len(invoices)
    open_ids = {i["invoice_id"] for i in invoices if i["balance"] != "0"}
    assert len(open_ids) == 4 * 6
    assert set(portal_latency.open_invoice_ids(2, 9)) == {i for i in open_ids if i.startswith("PI-00002-")}


def test_invoices_are_issued_before_today_and_due_thirty_days_later() -> None:
    today = date(2026, 3, 2)
    for row in csv.DictReader(io.StringIO(portal_latency.invoices_csv(2, 5, today))):
        issued, due = date.fromisoformat(row["issue_date"]), date.fromisoformat(row["due_date"])
        assert issued < today and (due - issued).days == 30


def test_customer_routes_carry_the_session_and_notes_go_to_another_customers_invoice() -> None:
    calls = {c.name: c for c in portal_latency.portal_calls("S-MEASURED", "PI-00000-000", "S-NOTES", "PI-00009-000")}

    assert set(calls) == {"health", "me", "invoices", "invoice", "statement", "timeline", "note"}
    assert calls["health"].token is None
    assert {c.token for name, c in calls.items() if name not in ("health", "note")} == {"S-MEASURED"}
    assert calls["invoice"].path == "/portal/invoices/PI-00000-000"
    assert (calls["note"].token, calls["note"].path) == ("S-NOTES", "/portal/invoices/PI-00009-000/notes")
    assert (calls["note"].method, calls["note"].expect) == ("POST", 201)


def test_a_customer_call_goes_through_the_authorizer_and_reaches_the_function_with_its_context() -> None:
    seen: dict[str, Any] = {}

    def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen["authorizer"] = event
        return ALLOW_ALL

    def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen["api"] = event
        return {"statusCode": 201}

    call = Call("note", "POST", "/portal/invoices/PI-1/notes", 201, "S-TOKEN", {"text": "Paying Friday."})
    authorizer_s, function_s = _portal(api, authorizer).call(call)

    assert seen["authorizer"]["authorizationToken"] == "Bearer S-TOKEN"
    assert seen["authorizer"]["methodArn"].endswith("/local/POST/portal/invoices/PI-1/notes")
    event = seen["api"]
    assert (event["httpMethod"], event["path"]) == ("POST", "/portal/invoices/PI-1/notes")
    assert json.loads(event["body"]) == {"text": "Paying Friday."}
    assert event["requestContext"]["authorizer"]["customer_id"] == "PORTAL-00000"
    assert authorizer_s > 0 and function_s > 0


def test_health_skips_the_authorizer() -> None:
    def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise AssertionError("/health has no authorizer")

    authorizer_s, _ = _portal(lambda event, context: {"statusCode": 200}, authorizer).call(
        Call("health", "GET", "/health", 200)
    )
    assert authorizer_s == 0.0


def test_a_refused_session_or_an_unexpected_status_fails_the_benchmark() -> None:
    def refuse(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise Exception("Unauthorized")

    ok = _portal(lambda event, context: {"statusCode": 200}, refuse)
    with pytest.raises(AssertionError, match="refused"):
        ok.call(Call("me", "GET", "/portal/me", 200, "S-TOKEN"))
    failing = _portal(lambda event, context: {"statusCode": 500}, lambda event, context: ALLOW_ALL)
    with pytest.raises(AssertionError, match="500"):
        failing.call(Call("me", "GET", "/portal/me", 200, "S-TOKEN"))


def test_the_portal_and_onboarding_functions_have_first_call_statements_for_their_cold_start() -> None:
    modules = cold_imports.handler_modules()
    measured = ("api", "portal_authorizer", "onboarding_step", "onboarding_sweep")
    assert set(measured) <= set(modules)
    assert set(cold_imports.FIRST_CALL) <= set(modules)
    for name in measured:
        statement = cold_imports.first_call_statement(name, modules[name])
        compile(statement, name, "exec")  # a statement the child process can run
        assert "shared_connection().client" in statement
