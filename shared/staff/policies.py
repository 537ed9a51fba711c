"""Dunning policies over the staff API: lint a policy file, apply it as the new active version, read the active
one — the rules of `arcollect policy lint|apply|show`, with the file's text in the request.

A file that does not parse, or that breaks a rule (an error finding) and is not forced, is unprocessable: a
`ValidationError` (422) whose details say, line by line or rule by rule, what to change. Nothing is stored
unless the file parses, its templates compile and, without `force`, the linter finds no error."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from shared.dunning.lint import Finding, has_errors, lint_policy_file
from shared.dunning.model import PolicyFile
from shared.dunning.policy import PolicyFileError, parse_policy_file, policy_file_to_document
from shared.dunning.policy_store import PolicyStore
from shared.errors import NotFoundError, ValidationError
from shared.staff.models import Applied, FindingView, LintReport, PolicySetView


class InvalidPolicy(ValidationError):
    """The file does not parse, its templates do not compile, or it is too large to store."""

    code = "bad_policy"


class PolicyRulesBroken(ValidationError):
    """The linter found errors and the apply was not forced."""

    code = "policy_rules_broken"


def lint_source(source: str, templates: Mapping[str, str], terms_days: int) -> LintReport:
    findings = _lint(_parse(source, templates), terms_days)
    return LintReport(
        errors=sum(f.severity == "error" for f in findings),
        warnings=sum(f.severity == "warning" for f in findings),
        findings=[_view(f) for f in findings],
    )


def apply_source(
    source: str, templates: Mapping[str, str], terms_days: int, *, force: bool, applied_by: str, now: datetime
) -> Applied:
    policy_file = _parse(source, templates)
    findings = _lint(policy_file, terms_days)
    errors = [f for f in findings if f.severity == "error"]
    if has_errors(findings) and not force:
        raise PolicyRulesBroken(
            f"the policy file breaks {len(errors)} rule{'s' if len(errors) != 1 else ''}; nothing was applied "
            "(lint it for every finding; force applies it anyway)",
            details=[_line(f) for f in errors],
        )
    try:
        version = PolicyStore().apply(policy_file, source, applied_by, now)
    except PolicyFileError as exc:  # too large to store as one version
        raise InvalidPolicy(exc.message, exc.details) from None
    return Applied(
        version=version,
        policies=len(policy_file.policies),
        segments=len(policy_file.segments),
        warnings=[_view(f) for f in findings if f.severity == "warning"],
        forced_errors=[_view(f) for f in errors],
    )


def active_policy_set() -> PolicySetView:
    stored = PolicyStore().latest()
    if stored is None:
        raise NotFoundError("no policy file has been applied yet (PUT /staff/policies, or arcollect policy apply)")
    return PolicySetView(
        version=stored.version,
        applied_at=stored.applied_at,
        applied_by=stored.applied_by,
        document=policy_file_to_document(stored.policy_file),
        source=stored.source_text,
    )


def _parse(source: str, templates: Mapping[str, str]) -> PolicyFile:
    try:
        return parse_policy_file(source, templates=dict(templates))
    except PolicyFileError as exc:
        raise InvalidPolicy(exc.message, exc.details) from None


def _lint(policy_file: PolicyFile, terms_days: int) -> list[Finding]:
    from shared.dunning.render import known_templates

    return lint_policy_file(policy_file, terms_days=terms_days, known_templates=known_templates())


def _view(finding: Finding) -> FindingView:
    return FindingView(
        rule=finding.rule, severity=finding.severity, policy=finding.policy, step=finding.step, message=finding.message
    )


def _line(finding: Finding) -> str:
    where = " · ".join(part for part in (finding.policy, finding.step) if part) or "segments"
    return f"{finding.rule}: {where}: {finding.message}"
