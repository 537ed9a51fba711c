"""Staff routes (`/staff/...`): the AR team's powers of the command line over HTTP, IAM-authorised in AWS.

Routing only: each route validates its input with the models of `shared.staff.models`, calls one function of
`shared.accounts`, `shared.staff` or `shared.portal.access` and returns its model, which is what the matching
`arcollect … --json` prints. Who may call is settled before the function runs: API Gateway's AWS_IAM
authorisation (SigV4) in AWS, the local gateway's loopback check under `arcollect local`."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from shared.accounts.queries import CURSOR_MAX_CHARS, customer_detail, list_customers
from shared.accounts.views import CustomerDetail, CustomerPage
from shared.api.openapi import SIGV4, ErrorEnvelope, errors, ok
from shared.errors import NotFoundError, NotImplementedYet
from shared.onboarding.service import is_suppressed, onboarding_services
from shared.portal import access
from shared.portal.service import PortalServices, portal_services
from shared.staff import policies, runs, worklist
from shared.staff.models import (
    WORKLIST_DEFAULT,
    WORKLIST_MAX,
    Applied,
    ApplyRequest,
    CheckEmailRequest,
    CheckTinRequest,
    EmailVerdictView,
    InvitationView,
    LintReport,
    LintRequest,
    PolicySetView,
    PortalLinkView,
    RunsOfDay,
    RunStarted,
    StartRunRequest,
    TaskView,
    TinVerdictView,
    Worklist,
)

router = Router()

TAGS = ["staff"]
# Who may call is settled before the function runs; every staff route documents those refusals.
_ENVELOPE = {"application/json": {"model": ErrorEnvelope}}
REFUSALS: dict[int, Any] = {
    401: {"description": "AWS: the request is not signed with AWS Signature Version 4", "content": _ENVELOPE},
    403: {
        "description": "AWS: the IAM principal may not call this route, or the signature does not match; "
        "arcollect local: the caller is not on this machine",
        "content": _ENVELOPE,
    },
}
BODY_ERRORS = (400, 413, 415, 422)
CUSTOMERS_MAX = 1000
# Ids are at most a few hundred characters (a task id holds an invoice id); percent-encoded, a few times that.
MAX_PATH_ID = 2048
MAX_ID_BYTES = 1024
# The reports of the contract; they land with issue 10 (aging buckets, DSO and friends).
PENDING_REPORTS = ("aging", "kpis")
APPLIED_BY_MAX = 200

CustomerId = Annotated[str, Path(max_length=MAX_PATH_ID)]


def services() -> PortalServices:
    """The process's services; building them binds the table models, so every route calls this first."""
    return portal_services()


def _id(value: str, kind: str) -> str:
    """A path parameter as the id it names: API Gateway (REST) hands the function the path still
    percent-encoded, and Powertools does not decode it, so `C%2342` is customer `C#42`. An id longer than
    any stored one is not found (DynamoDB would refuse it as a key, a 500)."""
    decoded = unquote(value)
    if len(decoded.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise NotFoundError(f"No {kind} has so long an id.")
    return decoded


def _json(status: HTTPStatus, model: Any) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=model)


def _caller() -> str:
    """Who applied a policy: the IAM principal API Gateway authenticated, else (locally, unsigned) staff."""
    identity = (router.current_event.raw_event.get("requestContext") or {}).get("identity") or {}
    who = identity.get("userArn") or identity.get("caller") or "staff"
    return str(who)[:APPLIED_BY_MAX]


def _state_machine(portal: PortalServices) -> str:
    return runs.state_machine_arn_beside(router.lambda_context.invoked_function_arn, portal.settings.stage)


# --- customers -------------------------------------------------------------------------------------------


@router.get(
    "/staff/customers",
    summary="Every customer, a page at a time (arcollect customers list)",
    responses=ok(CustomerPage) | errors(422) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def get_customers(
    limit: Annotated[int, Query(ge=1, le=CUSTOMERS_MAX)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=CURSOR_MAX_CHARS, description="The `next` value of the previous page")
    ] = None,
) -> CustomerPage:
    services()
    return list_customers(limit=limit, after=cursor)


@router.get(
    "/staff/customers/<customer_id>",
    summary="One customer: master data (TIN masked), invoices, timeline (arcollect customers show)",
    responses=ok(CustomerDetail) | errors(404) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def get_customer(customer_id: CustomerId) -> CustomerDetail:
    return customer_detail(_id(customer_id, "customer"), services().clock().date())


@router.post(
    "/staff/customers/<customer_id>/portal-link",
    summary="A sign-in link for the customer, for support (arcollect portal-link)",
    responses=ok(PortalLinkView, 201, "Created") | errors(404) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def post_portal_link(customer_id: CustomerId) -> Response[PortalLinkView]:
    portal = services()
    link = access.issue_portal_link(_id(customer_id, "customer"), portal.clock(), portal.signer, portal.portal_url)
    return _json(
        HTTPStatus.CREATED, PortalLinkView(url=link.url, link_token=link.link_token, expires_at=link.expires_at)
    )


@router.post(
    "/staff/customers/<customer_id>/revoke-access",
    summary="End every portal link and session of the customer issued until now",
    responses={204: {"description": "Revoked: the customer signs in again from a new link"}} | errors(404) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def post_revoke_access(customer_id: CustomerId) -> Response[None]:
    access.revoke_access(_id(customer_id, "customer"), services().clock())
    return Response(status_code=HTTPStatus.NO_CONTENT)


@router.post(
    "/staff/customers/<customer_id>/onboarding/invitations",
    summary="Send (or re-send) the onboarding invitation (arcollect onboarding invite)",
    responses=ok(InvitationView, 201, "Sent") | errors(404, 422) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def post_invitation(customer_id: CustomerId) -> Response[InvitationView]:
    # Sent by the onboarding sweep function, which holds SES: the API itself sends no email.
    invited = onboarding_services().invite_through_sweep(_id(customer_id, "customer"))
    return _json(HTTPStatus.CREATED, InvitationView(**invited))


@router.post(
    "/staff/checks/tin",
    summary="The onboarding TIN rules on one value (arcollect check tin)",
    responses=ok(TinVerdictView) | errors(*BODY_ERRORS) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def post_check_tin(body: CheckTinRequest) -> TinVerdictView:
    from shared.onboarding.tin_rules import check_tin

    verdict = check_tin(body.tin_type, body.value, classification=body.classification, legal_name=body.legal_name)
    return TinVerdictView(**verdict.as_json())


@router.post(
    "/staff/checks/email",
    summary="The onboarding AP email rules on one address, the suppression list included (arcollect check email)",
    responses=ok(EmailVerdictView) | errors(*BODY_ERRORS) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def post_check_email(body: CheckEmailRequest) -> EmailVerdictView:
    from shared.onboarding.email_rules import check_ap_email

    onboarding = onboarding_services()
    resolver = onboarding.resolver if body.dns else None
    return EmailVerdictView(**check_ap_email(body.address, resolver=resolver, suppressed=is_suppressed).as_json())


# --- worklist --------------------------------------------------------------------------------------------


@router.get(
    "/staff/worklist",
    summary="The open tasks, highest score first (arcollect worklist)",
    responses=ok(Worklist) | errors(422) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def get_worklist(limit: Annotated[int, Query(ge=1, le=WORKLIST_MAX)] = WORKLIST_DEFAULT) -> Worklist:
    services()
    return Worklist(tasks=[worklist.task_view(task) for task in worklist.open_tasks(limit)])


@router.get(
    "/staff/tasks/<task_id>",
    summary="One task, open or done",
    responses=ok(TaskView) | errors(404) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def get_task(task_id: Annotated[str, Path(max_length=MAX_PATH_ID)]) -> TaskView:
    services()
    return worklist.task_of(_id(task_id, "task"))


# --- policies --------------------------------------------------------------------------------------------


@router.get(
    "/staff/policies",
    summary="The active dunning policy version (arcollect policy show)",
    responses=ok(PolicySetView) | errors(404) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def get_policies() -> PolicySetView:
    services()
    return policies.active_policy_set()


@router.post(
    "/staff/policies/lint",
    summary="What a policy file breaks, rule by rule (arcollect policy lint)",
    description="Findings of the file as it is; a file that does not parse is a 422 listing every problem.",
    responses=ok(LintReport) | errors(*BODY_ERRORS) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def post_policy_lint(body: LintRequest) -> LintReport:
    return policies.lint_source(body.source, body.templates, body.terms_days)


@router.put(
    "/staff/policies",
    summary="Apply a policy file as the new active version (arcollect policy apply)",
    description="422 when the file does not parse or, without force, breaks a rule; nothing is stored then.",
    responses=ok(Applied, 201, "Applied") | errors(409, *BODY_ERRORS) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def put_policies(body: ApplyRequest) -> Response[Applied]:
    now = services().clock()
    applied = policies.apply_source(
        body.source, body.templates, body.terms_days, force=body.force, applied_by=_caller(), now=now
    )
    return _json(HTTPStatus.CREATED, applied)


# --- dunning runs ----------------------------------------------------------------------------------------


@router.get(
    "/staff/dunning/runs",
    summary="The dunning runs of a day and what each did",
    responses=ok(RunsOfDay) | errors(422) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def get_runs(
    date: Annotated[dt.date | None, Query(description="YYYY-MM-DD; default: the system's today")] = None,
) -> RunsOfDay:
    portal = services()
    day = date or portal.clock().date()
    return RunsOfDay(date=day, runs=runs.runs_of_day(day, _state_machine(portal)))


@router.post(
    "/staff/dunning/runs",
    summary="Start a dunning run now (arcollect dunning run)",
    description="The run covers all of `as_of` (default: the system's today); follow it with GET /staff/dunning/runs.",
    responses=ok(RunStarted, 202, "Started") | errors(*BODY_ERRORS) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def post_run(body: Annotated[StartRunRequest | None, Body()] = None) -> Response[RunStarted]:
    portal = services()
    day = (body.as_of if body is not None else None) or portal.clock().date()
    started = runs.start_run(portal.client("stepfunctions"), _state_machine(portal), day, trigger="staff")
    return _json(HTTPStatus.ACCEPTED, started)


# --- reports ---------------------------------------------------------------------------------------------


@router.get(
    "/staff/reports/<name>",
    summary="A report: aging or kpis",
    responses=errors(404, 501) | REFUSALS,
    security=SIGV4,
    tags=TAGS,
)
def get_report(name: Annotated[str, Path(max_length=MAX_PATH_ID)]) -> None:
    if name in PENDING_REPORTS:
        raise NotImplementedYet(f"The {name} report is not available yet.")
    raise NotFoundError(f"There is no such report: the staff reports are {' and '.join(PENDING_REPORTS)}.")
