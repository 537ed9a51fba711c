"""The staff API (`/staff/...`) through the real API handler against the in-process AWS (moto): REST proxy
events as API Gateway (and the local gateway) builds them, answers as the CLI's `--json` prints them. Who may
call is API Gateway's business in AWS and the local gateway's at home (tested there), not this handler's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.api.handler import handler
from shared.clock import clock_for
from shared.data.tables import CustomerRecord, DunningBatchRecord, DunningRunRecord, PolicySetRecord, TaskRecord
from shared.dunning.tasks import new_task
from shared.errors import Unauthorized
from shared.ledger.importer import build_importer
from shared.portal import access
from shared.portal.service import portal_services
from shared.security.links import new_secret_value
from shared.settings import RuntimeSettings, runtime_settings, stage_names
from tests.integration.test_api_contract import ACCOUNT, CONTEXT, proxy_event

TODAY = dt.date(2026, 3, 2)
PORTAL_URL = "https://portal.example.com"
STANDARD_POLICY = (Path(__file__).parents[2] / "shared" / "dunning" / "standard_policy.yaml").read_text()
BREAKS_RULES = """\
policies:
  - name: pushy
    steps:
      - {id: call_first, anchor: invoice_date, offset_days: 20, channel: call}
      - {id: email,      anchor: due_date,     offset_days: 0,  channel: email, template: due_today}
segments:
  - {name: all, policy: pushy}
"""
CUSTOMERS = """customer_id,legal_name,country,ap_email,timezone,currency,terms_days,tin_type,tin
ALPHA,Alpha Widgets Inc,US,ap@alpha.example.com,America/New_York,USD,30,ein,12-3456789
BETA,<b>Beta</b> Parts LLC,US,ap@beta.example.com,America/Chicago,USD,30,,
"""
INVOICES = """invoice_id,customer_id,number,issue_date,due_date,currency,amount,balance,po_number
A-1,ALPHA,1001,2026-01-05,2026-02-04,USD,1200.00,1200.00,
A-2,ALPHA,1002,2026-01-20,2026-02-19,USD,300.50,300.50,
B-1,BETA,2001,2026-01-10,2026-02-09,USD,5000.00,0,
"""
EXECUTIONS = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:arcollect-test-dunning"
SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDSTAFF/20260302/us-east-1/execute-api/aws4_request"}


@dataclasses.dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, Any]

    @property
    def error_code(self) -> str:
        return str(self.body["error"]["code"])


def call(method: str, path: str, body: Any = None, *, query: str | None = None) -> Answer:
    data = json.dumps(body) if body is not None else None
    event = proxy_event(
        method,
        path,
        body=data,
        content_type="application/json" if data is not None else None,
        query=query,
        headers=SIGNED,
    )
    # API Gateway (REST) passes the path as the client sent it, percent-encoded; werkzeug has decoded it.
    event["path"] = event["requestContext"]["path"] = path
    result = handler(event, CONTEXT)
    text = result["body"]
    return Answer(result["statusCode"], json.loads(text) if text else None, result.get("multiValueHeaders") or {})


@pytest.fixture
def staff(aws: None, settings: RuntimeSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[RuntimeSettings]:
    """A deployment as the API function sees it: its settings in the environment, the link key in Secrets
    Manager, the dunning state machine, and a ledger of two customers."""
    names = stage_names(settings.stage)
    deployed = dataclasses.replace(settings, today=TODAY.isoformat(), portal_url=PORTAL_URL)
    boto3.client("secretsmanager", region_name=settings.region).create_secret(
        Name=names.link_secret_name, SecretString=new_secret_value("k1")
    )
    boto3.client("stepfunctions", region_name=settings.region).create_state_machine(
        name=names.dunning_state_machine,
        definition=json.dumps({"StartAt": "Plan", "States": {"Plan": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/{names.prefix}-dunning",
    )
    for name, value in deployed.as_environment().items():
        monkeypatch.setenv(name, value)
    runtime_settings.cache_clear()
    portal_services.cache_clear()
    importer = build_importer(deployed, clock_for(TODAY))
    for kind, text in (("customers", CUSTOMERS), ("invoices", INVOICES)):
        report = importer.import_file(kind, text.encode(), source=f"{kind}.csv")  # type: ignore[arg-type]
        assert not report.rejected, report.problems
    yield deployed
    runtime_settings.cache_clear()
    portal_services.cache_clear()


def now() -> dt.datetime:
    return dt.datetime.combine(TODAY, dt.time(12), dt.UTC)


# --- customers -------------------------------------------------------------------------------------------


def test_the_customer_list_is_the_clis_page_with_balances_and_a_cursor(staff: RuntimeSettings) -> None:
    first = call("GET", "/staff/customers", query="limit=1")
    assert first.status == 200
    assert first.body["next"]

    second = call("GET", "/staff/customers", query=f"limit=1&cursor={first.body['next']}")

    listed = {c["customer_id"]: c for c in first.body["customers"] + second.body["customers"]}
    assert set(listed) == {"ALPHA", "BETA"}
    assert listed["ALPHA"]["open_balance"] == {"USD": "1500.50"}
    assert listed["ALPHA"]["open_invoices"] == 2
    assert listed["BETA"]["legal_name"] == "<b>Beta</b> Parts LLC"


def test_a_cursor_the_list_never_printed_is_a_422_not_a_500(staff: RuntimeSettings) -> None:
    answer = call("GET", "/staff/customers", query="cursor=bm90LWEta2V5")

    assert (answer.status, answer.error_code) == (422, "validation_error")


def test_a_page_size_out_of_bounds_is_a_422_naming_the_parameter(staff: RuntimeSettings) -> None:
    answer = call("GET", "/staff/customers", query="limit=0")

    assert answer.status == 422
    assert answer.body["error"]["details"][0]["location"] == "query"
    assert answer.body["error"]["details"][0]["field"] == "limit"


def test_a_customers_detail_shows_the_tin_masked_with_invoices_and_days_past_due(staff: RuntimeSettings) -> None:
    answer = call("GET", "/staff/customers/ALPHA")

    assert answer.status == 200
    assert answer.body["tin"].endswith("6789") and "12-3456789" not in json.dumps(answer.body)
    days_late = {i["invoice_id"]: i["days_past_due"] for i in answer.body["invoices"]}
    assert days_late == {"A-1": 26, "A-2": 11}


def test_an_unknown_customer_is_a_404_on_every_customer_route(staff: RuntimeSettings) -> None:
    for method, path in (
        ("GET", "/staff/customers/NOBODY"),
        ("POST", "/staff/customers/NOBODY/portal-link"),
        ("POST", "/staff/customers/NOBODY/revoke-access"),
    ):
        answer = call(method, path)
        assert (answer.status, answer.error_code) == (404, "not_found"), path


def test_an_id_longer_than_any_stored_one_is_a_404_not_a_500(staff: RuntimeSettings) -> None:
    # Over DynamoDB's 2048 bytes of a key (which moto does not check), within the 2048 characters of a path
    # parameter: refused before DynamoDB is asked.
    for kind, path in (("customer", "/staff/customers/" + "é" * 1100), ("task", "/staff/tasks/" + "ü" * 1100)):
        answer = call("GET", path)
        assert (answer.status, answer.error_code) == (404, "not_found"), kind
        assert answer.body["error"]["message"] == f"No {kind} has so long an id."


# --- portal access ---------------------------------------------------------------------------------------


def test_a_portal_link_opens_a_session_for_that_customer(staff: RuntimeSettings) -> None:
    answer = call("POST", "/staff/customers/ALPHA/portal-link")

    assert answer.status == 201
    link = answer.body
    assert link["url"] == f"{PORTAL_URL}/?link={link['link_token']}"
    assert dt.datetime.fromisoformat(link["expires_at"]) > now() + dt.timedelta(days=7)
    session = access.open_session(link["link_token"], portal_services().signer, now())
    assert session.customer_id == "ALPHA"


def test_revoking_access_ends_the_links_issued_before_it(staff: RuntimeSettings) -> None:
    # Given a link issued yesterday
    signer = portal_services().signer
    earlier = access.issue_portal_link("BETA", now() - dt.timedelta(days=1), signer, PORTAL_URL)

    # When staff revoke BETA's access
    answer = call("POST", "/staff/customers/BETA/revoke-access")

    # Then the link no longer opens a session, and a new link does
    assert (answer.status, answer.body) == (204, None)
    with pytest.raises(Unauthorized):
        access.open_session(earlier.link_token, signer, now())
    revoked_at = CustomerRecord.get("BETA", consistent_read=True).portal_access_revoked_at
    assert revoked_at is not None
    later = revoked_at + dt.timedelta(seconds=1)
    fresh = access.issue_portal_link("BETA", later, signer, PORTAL_URL)
    assert access.open_session(fresh.link_token, signer, later).customer_id == "BETA"


# --- worklist --------------------------------------------------------------------------------------------


def add_task(task_id: str, score: int, due: str = "2026-03-02", kind: str = "call") -> TaskRecord:
    task = new_task(
        task_id, customer_id="ALPHA", kind=kind, invoice_ids=["A-1"], due=due, reason=f"{kind} ALPHA", now=now()
    )
    task.score = score
    task.score_key = f"{score:012d}#{task_id}"
    task.save()
    return task


def test_the_worklist_ranks_open_tasks_by_score_then_due_date(staff: RuntimeSettings) -> None:
    add_task("t-low", 10)
    add_task("t-high", 90)
    add_task("t-mid-late", 50, due="2026-03-05")
    add_task("t-mid-early", 50, due="2026-03-01")
    done = add_task("t-done", 99)
    done.update(actions=[TaskRecord.status.set("done"), TaskRecord.open_shard.remove()])

    answer = call("GET", "/staff/worklist", query="limit=3")

    assert answer.status == 200
    assert [t["task_id"] for t in answer.body["tasks"]] == ["t-high", "t-mid-early", "t-mid-late"]
    first = answer.body["tasks"][0]
    assert first | {"created_at": None} == {
        "task_id": "t-high",
        "kind": "call",
        "customer_id": "ALPHA",
        "invoice_ids": ["A-1"],
        "due": "2026-03-02",
        "score": 90,
        "reason": "call ALPHA",
        "created_at": None,
        "status": "open",
        "outcome": None,
        "closed_at": None,
    }


def test_a_task_is_readable_by_id_open_or_done_and_an_unknown_one_is_a_404(staff: RuntimeSettings) -> None:
    done = add_task("t-closed", 5)
    done.update(actions=[TaskRecord.status.set("done"), TaskRecord.outcome.set("promised")])

    found = call("GET", "/staff/tasks/t-closed")
    missing = call("GET", "/staff/tasks/t-nope")

    assert (found.status, found.body["status"], found.body["outcome"]) == (200, "done", "promised")
    assert (missing.status, missing.error_code) == (404, "not_found")


def test_a_task_whose_id_holds_a_hash_is_found_from_its_percent_encoded_path(staff: RuntimeSettings) -> None:
    add_task("send_failed#ALPHA#A-1", 1)

    answer = call("GET", "/staff/tasks/send_failed%23ALPHA%23A-1")

    assert (answer.status, answer.body["task_id"]) == (200, "send_failed#ALPHA#A-1")


# --- policies --------------------------------------------------------------------------------------------


def test_before_any_apply_there_is_no_active_policy(staff: RuntimeSettings) -> None:
    answer = call("GET", "/staff/policies")

    assert (answer.status, answer.error_code) == (404, "not_found")


def test_lint_reports_each_broken_rule_with_its_policy_and_step(staff: RuntimeSettings) -> None:
    clean = call("POST", "/staff/policies/lint", {"source": STANDARD_POLICY})
    broken = call("POST", "/staff/policies/lint", {"source": BREAKS_RULES, "terms_days": 30})

    assert clean.status == broken.status == 200
    assert clean.body["errors"] == 0
    assert broken.body["errors"] >= 1
    personal_first = [f for f in broken.body["findings"] if f["rule"] == "personal_before_automated"]
    assert personal_first == [
        {
            "rule": "personal_before_automated",
            "severity": "error",
            "policy": "pushy",
            "step": "call_first",
            "message": personal_first[0]["message"],
        }
    ]


def test_a_file_that_is_not_a_policy_is_a_422_saying_which_line(staff: RuntimeSettings) -> None:
    answer = call("POST", "/staff/policies/lint", {"source": "policies: [\n  - {name: x\n"})

    assert (answer.status, answer.error_code) == (422, "bad_policy")
    assert answer.body["error"]["details"][0]["message"].startswith("line ")


def test_an_unknown_field_in_a_lint_request_is_a_422(staff: RuntimeSettings) -> None:
    answer = call("POST", "/staff/policies/lint", {"source": STANDARD_POLICY, "sauce": "yes"})

    assert (answer.status, answer.error_code) == (422, "validation_error")


def test_applying_a_file_that_breaks_rules_stores_nothing_unless_forced(staff: RuntimeSettings) -> None:
    refused = call("PUT", "/staff/policies", {"source": BREAKS_RULES})

    assert (refused.status, refused.error_code) == (422, "policy_rules_broken")
    assert any("personal_before_automated" in d["message"] for d in refused.body["error"]["details"])
    assert list(PolicySetRecord.scan()) == []

    forced = call("PUT", "/staff/policies", {"source": BREAKS_RULES, "force": True})

    assert (forced.status, forced.body["version"]) == (201, 1)
    assert {f["rule"] for f in forced.body["forced_errors"]} >= {"personal_before_automated"}


def test_an_applied_policy_becomes_the_active_version_with_its_text_and_who_applied_it(
    staff: RuntimeSettings,
) -> None:
    first = call("PUT", "/staff/policies", {"source": BREAKS_RULES, "force": True})
    second = call("PUT", "/staff/policies", {"source": STANDARD_POLICY})

    active = call("GET", "/staff/policies")

    assert (first.body["version"], second.body["version"]) == (1, 2)
    assert (second.body["policies"], second.body["forced_errors"]) == (2, [])
    assert active.status == 200
    assert active.body["version"] == 2
    assert active.body["source"] == STANDARD_POLICY
    assert active.body["applied_by"] == f"arn:aws:iam::{ACCOUNT}:user/local-staff"
    assert [p["name"] for p in active.body["document"]["policies"]] == ["standard", "gentle"]


def test_a_policy_with_its_own_templates_applies_and_a_broken_template_is_refused(staff: RuntimeSettings) -> None:
    own = BREAKS_RULES.replace("template: due_today", "template: our_own")
    good = {"our_own.subject": "Invoice due", "our_own.txt": "Please pay.", "our_own.html": "<p>Please pay.</p>"}

    applied = call("PUT", "/staff/policies", {"source": own, "templates": good, "force": True})
    broken = call("PUT", "/staff/policies", {"source": own, "templates": good | {"our_own.txt": "{% if %}"}})

    assert applied.status == 201
    assert not [f for f in applied.body["forced_errors"] if f["rule"] == "unknown_template"]
    assert (broken.status, broken.error_code) == (422, "bad_policy")


# --- dunning runs ----------------------------------------------------------------------------------------


def execution_input(execution_arn: str) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    return dict(json.loads(sfn.describe_execution(executionArn=execution_arn)["input"]))


def test_starting_a_run_without_a_body_plans_the_systems_today(staff: RuntimeSettings) -> None:
    answer = call("POST", "/staff/dunning/runs")

    assert answer.status == 202
    assert answer.body["run_date"] == TODAY.isoformat()
    assert answer.body["run_id"].startswith(f"staff-{TODAY.isoformat()}-")
    assert answer.body["execution_arn"] == f"{EXECUTIONS}:{answer.body['run_id']}"
    assert execution_input(answer.body["execution_arn"]) == {"as_of": TODAY.isoformat(), "trigger": "staff"}


def test_a_run_as_of_another_day_plans_that_day(staff: RuntimeSettings) -> None:
    answer = call("POST", "/staff/dunning/runs", {"as_of": "2026-02-27"})

    assert (answer.status, answer.body["run_date"]) == (202, "2026-02-27")
    assert execution_input(answer.body["execution_arn"])["as_of"] == "2026-02-27"


def test_a_run_as_of_something_that_is_not_a_date_is_a_422(staff: RuntimeSettings) -> None:
    for body in ({"as_of": "yesterday"}, {"as_of": "2026-02-30"}, {"when": "2026-02-27"}):
        answer = call("POST", "/staff/dunning/runs", body)
        assert (answer.status, answer.error_code) == (422, "validation_error"), body


def test_the_runs_of_a_day_say_what_each_did(staff: RuntimeSettings) -> None:
    # Given a finished run of 2026-03-01 with one batch, and a run of another day
    started = dt.datetime(2026, 3, 1, 14, tzinfo=dt.UTC)
    DunningRunRecord(
        "2026-03-01",
        "cli-2026-03-01-abc",
        status="succeeded",
        counts={"planned": {"due_invoices": 3, "customers": 1, "batches": 1}, "result": {"retrying": 1}},
        started_at=started,
        finished_at=started + dt.timedelta(minutes=2),
    ).save()
    DunningBatchRecord(
        "cli-2026-03-01-abc",
        "b00000",
        counts={"sent": {"email": 2}, "tasks": {"call": 1}, "skipped": {"on_hold": 1}, "touched": 3, "customers": 1},
        outcomes=[{"customer_id": "ALPHA", "outcome": "sent"}],
        finished_at=started + dt.timedelta(minutes=1),
    ).save()
    DunningRunRecord("2026-03-02", "other-day", started_at=started + dt.timedelta(days=1)).save()

    answer = call("GET", "/staff/dunning/runs", query="date=2026-03-01")

    assert answer.status == 200
    assert answer.body == {
        "date": "2026-03-01",
        "runs": [
            {
                "run_id": "cli-2026-03-01-abc",
                "run_date": "2026-03-01",
                "status": "succeeded",
                "execution_arn": f"{EXECUTIONS}:cli-2026-03-01-abc",
                "started_at": answer.body["runs"][0]["started_at"],
                "finished_at": answer.body["runs"][0]["finished_at"],
                "due_invoices": 3,
                "customers": 1,
                "sent": {"email": 2},
                "tasks": {"call": 1},
                "touched_invoices": 3,
                "skipped": {"on_hold": 1},
                "failed": 0,
                "retrying": 1,
            }
        ],
    }
    assert dt.datetime.fromisoformat(answer.body["runs"][0]["started_at"]) == started


def test_without_a_date_the_runs_are_todays(staff: RuntimeSettings) -> None:
    DunningRunRecord("2026-03-02", "today-run", started_at=now()).save()

    answer = call("GET", "/staff/dunning/runs")

    assert answer.body["date"] == TODAY.isoformat()
    assert [run["run_id"] for run in answer.body["runs"]] == ["today-run"]


# --- reports ---------------------------------------------------------------------------------------------


def test_the_aging_and_kpi_reports_answer_501_until_they_land(staff: RuntimeSettings) -> None:
    for name in ("aging", "kpis"):
        answer = call("GET", f"/staff/reports/{name}")
        assert (answer.status, answer.error_code) == (501, "not_implemented")


def test_an_unknown_report_is_a_404(staff: RuntimeSettings) -> None:
    answer = call("GET", "/staff/reports/forecast")

    assert (answer.status, answer.error_code) == (404, "not_found")


# --- the OpenAPI document --------------------------------------------------------------------------------


def test_every_staff_route_is_documented_with_sigv4_its_success_body_and_the_refusals(staff: RuntimeSettings) -> None:
    document = call("GET", "/openapi.json").body

    staff_operations = [
        (path, method, operation)
        for path, operations in document["paths"].items()
        if path.startswith("/staff")
        for method, operation in operations.items()
    ]

    assert len(staff_operations) == 15  # the CLI's powers, onboarding included
    for path, method, operation in staff_operations:
        where = f"{method.upper()} {path}"
        assert operation["security"] == [{"sigv4": []}], where
        assert {"401", "403"} <= set(operation["responses"]), where
        successes = [status for status in operation["responses"] if status.startswith("2")]
        assert successes or path == "/staff/reports/{name}", where
        for status in successes:
            if status != "204":
                assert operation["responses"][status]["content"]["application/json"]["schema"], where
    assert "sigv4" in document["components"]["securitySchemes"]
