"""`arcollect policy lint`: what a policy file breaks, rule by rule, before it goes live.

The planner enforces PRODUCT.md 1.3's rules whatever a policy says (a too-young step is skipped, a final
step waits for its touches, a call waits for an email), so a policy that breaks them does not misbehave:
it silently does less than its author wrote. The linter says so up front. Each rule looks at one invoice
of `terms_days` terms with no payment, hold or closed day (due date = issue date + terms), numbering days
from the invoice date; a rule that depends on the terms says which terms change the answer.

Pure: a PolicyFile in, findings out. Rule ids are stable (scripts and docs/policies.md name them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from shared.dunning.model import AUTOMATED_CHANNELS, PERSONAL_CHANNELS, Policy, PolicyFile, SegmentMatch, Step

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str


RULES: tuple[Rule, ...] = (
    Rule("first_touch_age", "error", "a step falls before the invoice is first_touch_min_age_days old"),
    Rule("min_touches", "error", "fewer than min_touches touches before a final step"),
    Rule("personal_before_automated", "error", "a call, letter or agency step before any email or SMS"),
    Rule("never_fires", "error", "a step that can never be sent"),
    Rule("unknown_template", "error", "a step names a template that neither arcollect nor the AR team has"),
    Rule("short_terms", "warning", "steps that shorter payment terms would push before the first touch"),
    Rule("no_reminder_by_due_date", "warning", "no touch on or before the due date"),
    Rule("min_gap", "warning", "two touches closer than min_gap_days"),
    Rule("no_steps", "warning", "a policy without steps sends nothing"),
    Rule("unused_policy", "warning", "no segment or override uses the policy"),
    Rule("no_default_segment", "warning", "no segment catches every customer"),
)
RULE_BY_ID = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    policy: str | None  # None: the finding is about the file (its segments), not one policy
    step: str | None
    message: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "policy": self.policy,
            "step": self.step,
            "message": self.message,
        }


@dataclass(frozen=True)
class _Placed:
    order: int  # position in the policy
    step: Step
    day: int  # days after the invoice date, with the linted terms


def lint_policy_file(
    policy_file: PolicyFile, *, terms_days: int = 30, known_templates: Mapping[str, frozenset[str]] | None = None
) -> list[Finding]:
    """Every finding, by policy (file order) then step (policy order); the file's own findings last.
    `known_templates`: each template name arcollect has built in → its forms ({"html", "txt", ...}), as
    shared.dunning.render.known_templates gives them; the file's own templates are added. None skips the
    template check."""
    templates = None
    if known_templates is not None:
        templates = _with_own_templates(known_templates, policy_file.templates)
    used = _used_policies(policy_file)
    findings: list[Finding] = []
    for policy in policy_file.policies.values():
        own = _policy_findings(policy, terms_days, templates)
        if policy.name not in used:
            own.append(_finding("unused_policy", policy, None, "no segment or override uses this policy"))
        findings += _sorted(policy, own)
    if not any(segment.match == SegmentMatch() for segment in policy_file.segments):
        findings.append(
            _finding(
                "no_default_segment",
                None,
                None,
                "no segment catches every customer (a segment without `match:`, last in the list): customers "
                "no segment matches are not dunned",
            )
        )
    return findings


def has_errors(findings: list[Finding]) -> bool:
    return any(finding.severity == "error" for finding in findings)


def _sorted(policy: Policy, findings: list[Finding]) -> list[Finding]:
    order = {step.id: i for i, step in enumerate(policy.steps)}
    rules = [rule.id for rule in RULES]
    return sorted(findings, key=lambda f: (-1 if f.step is None else order[f.step], rules.index(f.rule)))


def _finding(rule: str, policy: Policy | None, step: Step | None, message: str) -> Finding:
    return Finding(
        rule=rule,
        severity=RULE_BY_ID[rule].severity,
        policy=None if policy is None else policy.name,
        step=None if step is None else step.id,
        message=message,
    )


def _with_own_templates(known: Mapping[str, frozenset[str]], own: Mapping[str, str]) -> dict[str, frozenset[str]]:
    forms = {name: set(kinds) for name, kinds in known.items()}
    for file_name in own:
        name, _, kind = file_name.rpartition(".")
        forms.setdefault(name, set()).add(kind)
    return {name: frozenset(kinds) for name, kinds in forms.items()}


def _policy_findings(policy: Policy, terms: int, templates: Mapping[str, frozenset[str]] | None) -> list[Finding]:
    if not policy.steps:
        return [_finding("no_steps", policy, None, "this policy has no steps: its customers get no reminders")]
    placed = sorted(
        (_Placed(i, step, _day(step, terms)) for i, step in enumerate(policy.steps)), key=lambda p: (p.day, p.order)
    )
    never, findings = _never_fires(policy, placed, terms)
    young = [p for p in placed if p.day < policy.first_touch_min_age_days and p.order not in never]
    findings += [_too_young(policy, p, terms) for p in young]
    live = [p for p in placed if p.day >= policy.first_touch_min_age_days and p.order not in never]
    findings += _short_terms(policy, live)
    findings += _personal_before_automated(policy, live)
    findings += _no_reminder_by_due_date(policy, live, terms)
    findings += _min_gap(policy, live, terms)
    findings += _min_touches(policy, live)
    if templates is not None:
        findings += _unknown_templates(policy, templates)
    return findings


def _day(step: Step, terms: int) -> int:
    return step.offset_days + (terms if step.anchor == "due_date" else 0)


def _when(step: Step) -> str:
    """A step's date as its author wrote it: "5 days before the due date"."""
    anchor = "the due date" if step.anchor == "due_date" else "the invoice date"
    if step.offset_days == 0:
        return f"on {anchor}"
    side = "after" if step.offset_days > 0 else "before"
    return f"{_days(abs(step.offset_days))} {side} {anchor}"


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _never_fires(policy: Policy, placed: list[_Placed], terms: int) -> tuple[set[int], list[Finding]]:
    """Steps no invoice ever reaches: always too young, always on the same day as another step, or after
    the agency referral. Returns their positions, so the other rules do not count them."""
    never: dict[int, str] = {}
    age = policy.first_touch_min_age_days
    for p in placed:
        if p.step.anchor == "invoice_date" and p.step.offset_days < age:
            never[p.order] = (
                f"it is {_when(p.step)}, before the first touch at day {age} whatever the terms: it is always skipped"
            )
    for p in placed:
        twin = next(
            (
                q
                for q in placed
                if q.order > p.order and (q.step.anchor, q.step.offset_days) == (p.step.anchor, p.step.offset_days)
            ),
            None,
        )
        if twin is not None and p.order not in never:
            never[p.order] = (
                f"it falls on the same day as step {twin.step.id!r} whatever the terms, and an invoice gets one "
                "touch a day: it is always superseded"
            )
    agency = next((p for p in placed if p.step.channel == "agency" and p.order not in never), None)
    if agency is not None and agency.day >= age:
        for p in placed:
            if p.day > agency.day and p.order not in never:
                terms_note = "" if p.step.anchor == agency.step.anchor else f" (with {terms}-day terms)"
                never[p.order] = (
                    f"it comes after the agency referral {agency.step.id!r}{terms_note}: once an account is "
                    "referred, the agency collects it and arcollect sends nothing more"
                )
    steps = {p.order: p.step for p in placed}
    return set(never), [_finding("never_fires", policy, steps[order], message) for order, message in never.items()]


def _too_young(policy: Policy, p: _Placed, terms: int) -> Finding:
    age = policy.first_touch_min_age_days
    return _finding(
        "first_touch_age",
        policy,
        p.step,
        f"with {terms}-day terms it falls on day {p.day}, before the first touch at day {age}: it is skipped, "
        f"never sent late (it is sent only on invoices with terms of at least {age - p.step.offset_days} days)",
    )


def _short_terms(policy: Policy, live: list[_Placed]) -> list[Finding]:
    age = policy.first_touch_min_age_days
    at_risk = sorted(
        (p for p in live if p.step.anchor == "due_date" and age - p.step.offset_days > 0),
        key=lambda p: (-(age - p.step.offset_days), p.order),
    )
    if not at_risk:
        return []
    parts = [f"{p.step.id!r} under {age - p.step.offset_days} days" for p in at_risk]
    return [
        _finding(
            "short_terms",
            policy,
            None,
            f"on invoices with shorter terms, these steps fall before the first touch at day {age} and are "
            f"skipped: {', '.join(parts)}",
        )
    ]


def _personal_before_automated(policy: Policy, live: list[_Placed]) -> list[Finding]:
    first_automated = next((p for p in live if p.step.channel in AUTOMATED_CHANNELS), None)
    findings = []
    for p in live:
        if p.step.channel not in PERSONAL_CHANNELS:
            continue
        if first_automated is None:
            reason = "the policy has no email or SMS step that can be sent"
        elif p.day <= first_automated.day:
            reason = f"the first email or SMS, {first_automated.step.id!r}, is on day {first_automated.day}"
        else:
            continue
        findings.append(
            _finding(
                "personal_before_automated",
                policy,
                p.step,
                f"a {p.step.channel} on day {p.day} comes before any automated touch ({reason}): "
                "start automated, then move to personal contact",
            )
        )
    return findings


def _no_reminder_by_due_date(policy: Policy, live: list[_Placed], terms: int) -> list[Finding]:
    if any(p.day <= terms for p in live):
        return []
    first = f"the first touch is {live[0].step.id!r} on day {live[0].day}" if live else "no step can be sent"
    return [
        _finding(
            "no_reminder_by_due_date",
            policy,
            None,
            f"no touch is made on or before the due date (day {terms} with {terms}-day terms); {first}",
        )
    ]


def _min_gap(policy: Policy, live: list[_Placed], terms: int) -> list[Finding]:
    gap = policy.min_gap_days
    findings = []
    for earlier, later in pairwise(live):
        apart = later.day - earlier.day
        if apart >= gap:
            continue
        if apart == 0:
            message = (
                f"with {terms}-day terms it falls on the same day as {earlier.step.id!r} (day {later.day}), and an "
                "invoice gets one touch a day: only one of them is sent"
            )
        else:
            message = (
                f"it comes {_days(apart)} after {earlier.step.id!r}; min_gap_days is {gap}: the planner waits "
                f"until day {earlier.day + gap}, when a later step due by then supersedes it"
            )
        findings.append(_finding("min_gap", policy, later.step, message))
    return findings


def _min_touches(policy: Policy, live: list[_Placed]) -> list[Finding]:
    findings = []
    for final in (p for p in live if p.step.final):
        before = [p for p in live if p.day < final.day]
        touches = len({p.day for p in before})  # one touch a day per invoice
        if touches >= policy.min_touches:
            continue
        named = ", ".join(repr(p.step.id) for p in before) or "none"
        findings.append(
            _finding(
                "min_touches",
                policy,
                final.step,
                f"only {touches} touch{'es' if touches != 1 else ''} can come before this final step ({named}); "
                f"min_touches is {policy.min_touches}: the planner holds it back and repeats earlier reminders first",
            )
        )
    return findings


def _unknown_templates(policy: Policy, templates: Mapping[str, frozenset[str]]) -> list[Finding]:
    findings = []
    for step in policy.steps:
        if step.template is None:
            continue
        forms = templates.get(step.template)
        if forms is None:
            message = f"template {step.template!r} is neither built in nor in the templates folder applied with it"
        elif step.channel == "email" and not {"html", "txt"} <= forms:
            has = ", ".join(sorted(forms))
            message = f"template {step.template!r} lacks the HTML and text bodies of an email (it has: {has})"
        else:
            continue  # SMS and letters fall back to the generic form of a template that has none of their own
        findings.append(_finding("unknown_template", policy, step, message))
    return findings


def _used_policies(policy_file: PolicyFile) -> set[str]:
    overrides = (*policy_file.customer_overrides.values(), *policy_file.invoice_overrides.values())
    return {segment.policy for segment in policy_file.segments} | {
        override.policy for override in overrides if override.policy is not None
    }
