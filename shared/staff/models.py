"""What the staff API accepts and answers, one pydantic model per body. Powertools validates each request
against them and builds the OpenAPI document from them; the JSON is the same as the CLI's `--json`.

Requests forbid unknown fields and bound every string, list and map, so no request makes the function parse,
store or lint an unbounded value."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.dunning.policy import MAX_DAYS, MAX_POLICY_FILE_BYTES, MAX_TEMPLATE_BYTES

MAX_TEMPLATES = 100
WORKLIST_MAX = 1000
WORKLIST_DEFAULT = 200

Count = dict[str, int]
PolicySource = Annotated[str, StringConstraints(min_length=1, max_length=MAX_POLICY_FILE_BYTES)]
TemplateName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
TemplateSource = Annotated[str, StringConstraints(max_length=MAX_TEMPLATE_BYTES)]
TermsDays = Annotated[int, Field(ge=0, le=MAX_DAYS, description="Payment terms to lint with")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- worklist --------------------------------------------------------------------------------------------


class TaskView(BaseModel):
    task_id: str
    kind: str = Field(description="call, broken_promise, dispute, bounce, send_failed, onboarding, checkin, ...")
    customer_id: str
    invoice_ids: list[str]
    due: str = Field(description="ISO date")
    score: int | float
    reason: str
    created_at: dt.datetime | None
    status: str = Field(description="open or done")
    outcome: str | None
    closed_at: dt.datetime | None


class Worklist(BaseModel):
    """The open tasks, highest score first (`arcollect worklist --json`)."""

    tasks: list[TaskView]


# --- policies --------------------------------------------------------------------------------------------


class FindingView(BaseModel):
    rule: str
    severity: Literal["error", "warning"]
    policy: str | None = Field(description="None: the finding is about the file's segments, not one policy")
    step: str | None
    message: str


class LintRequest(Request):
    source: PolicySource = Field(description="The policy file (YAML), as `arcollect policy lint FILE` reads it")
    templates: dict[TemplateName, TemplateSource] = Field(
        default_factory=dict,
        max_length=MAX_TEMPLATES,
        description="The AR team's own templates: NAME.html, NAME.txt, NAME.subject, NAME.sms or NAME.letter → "
        "Jinja2 source (`--templates FOLDER` of the CLI)",
    )
    terms_days: TermsDays = 30


class ApplyRequest(LintRequest):
    force: bool = Field(default=False, description="Apply even when the linter finds errors")


class LintReport(BaseModel):
    errors: int
    warnings: int
    findings: list[FindingView]


class Applied(BaseModel):
    version: int
    policies: int
    segments: int
    warnings: list[FindingView]
    forced_errors: list[FindingView]


class PolicySetView(BaseModel):
    """The active policy version: what the dunning runs follow."""

    version: int
    applied_at: dt.datetime
    applied_by: str
    document: dict[str, Any] = Field(description="policies, segments, overrides and templates, as stored")
    source: str = Field(description="The policy file's text as it was applied")


# --- dunning runs ----------------------------------------------------------------------------------------


class StartRunRequest(Request):
    as_of: dt.date | None = Field(default=None, description="Plan as of this day (default: the system's today)")


class RunStarted(BaseModel):
    run_id: str
    run_date: dt.date
    execution_arn: str


class RunSummary(BaseModel):
    """One run as `arcollect dunning run --wait --json` reports it, without the per-customer outcomes."""

    run_id: str
    run_date: dt.date
    status: str = Field(description="running, succeeded or failed")
    execution_arn: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    due_invoices: int
    customers: int
    sent: Count
    tasks: Count
    touched_invoices: int
    skipped: Count
    failed: int
    retrying: int


class RunsOfDay(BaseModel):
    date: dt.date
    runs: list[RunSummary]


# --- portal access ---------------------------------------------------------------------------------------


class PortalLinkView(BaseModel):
    """A sign-in link for one customer (`arcollect portal-link ID --json`)."""

    url: str
    link_token: str
    expires_at: dt.datetime


# --- onboarding ------------------------------------------------------------------------------------------


class CheckTinRequest(Request):
    """`arcollect check tin`: the TIN travels in the body (never the URL, which access logs keep)."""

    tin_type: Literal["ein", "ssn", "itin", "eu_vat", "gb_vat", "gb_utr", "ca_bn"]
    value: Annotated[str, StringConstraints(max_length=64)] = Field(repr=False)
    legal_name: Annotated[str, StringConstraints(max_length=300)] | None = None
    classification: Annotated[str, StringConstraints(max_length=60)] | None = None


class TinVerdictView(BaseModel):
    """The verdict on one TIN (`arcollect check tin --json`): never the number, only its last four."""

    valid: bool
    tin_type: str
    normalised_masked: str
    reasons: list[str]
    warnings: list[str]
    level: str = Field(description="invalid or format_valid (a registry match is the workflow's)")


class CheckEmailRequest(Request):
    address: Annotated[str, StringConstraints(max_length=400)]
    dns: bool = Field(default=True, description="Look the domain's MX up (false: syntax and lists only)")


class EmailVerdictView(BaseModel):
    """The verdict on one AP address (`arcollect check email --json`); here the suppression list is asked too."""

    verdict: Literal["valid", "invalid", "retry_later"]
    address: str
    normalised: str | None
    reasons: list[str]
    warnings: list[str]
    department: bool
    dns: str = Field(description="checked, not_checked or timeout")


class InvitationView(BaseModel):
    """An onboarding invitation sent (`arcollect onboarding invite ID --json`)."""

    customer_id: str
    address: str = Field(description="The AP address it went to, masked")
    next_reminder_at: dt.datetime | None
