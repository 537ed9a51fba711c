"""`arcollect policy lint`'s rules: each one caught on a small policy that breaks it and quiet on one that
does not, the INTERFACES.md example and arcollect's standard file free of errors, and over generated
policies, a policy that follows every rule has no error whatever its shape."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.dunning.lint import RULE_BY_ID, RULES, Finding, has_errors, lint_policy_file
from shared.dunning.model import Policy, PolicyFile, Segment, SegmentMatch, Step
from shared.dunning.policy import parse_policy_file
from shared.dunning.render import known_templates
from tests.unit.test_policy_file import policy_files

STANDARD_FILE = Path(__file__).parents[2] / "shared" / "dunning" / "standard_policy.yaml"
EMAIL = frozenset({"html", "txt", "subject"})
TEMPLATES = {"past_due": EMAIL, "past_due_sms": frozenset({"sms"}), "letter": frozenset({"letter"})}

# INTERFACES.md, "Dunning policy file (YAML)", verbatim: a new user applies exactly this.
INTERFACES_EXAMPLE = (Path(__file__).resolve().parents[1] / "fixtures" / "interfaces-example-policy.yaml").read_text()


def email(step_id: str, offset: int, *, anchor: str = "due_date", final: bool = False) -> Step:
    return Step(step_id, anchor, offset, "email", template="past_due", final=final)  # type: ignore[arg-type]


def personal(step_id: str, offset: int, channel: str = "call", *, final: bool = False) -> Step:
    return Step(step_id, "due_date", offset, channel, final=final)  # type: ignore[arg-type]


def lint(*steps: Step, terms: int = 30, **settings: int) -> list[Finding]:
    """The findings of one policy `p` (followed by a catch-all segment) at `terms`-day terms."""
    policy = Policy("p", tuple(steps), **settings)  # type: ignore[arg-type]
    return lint_policy_file(PolicyFile({"p": policy}, (Segment("all", "p"),)), terms_days=terms)


def rules(findings: list[Finding]) -> list[tuple[str, str | None]]:
    return [(f.rule, f.step) for f in findings]


def only(rule: str, findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


# --- the shipped examples --------------------------------------------------------------------------------


def test_the_interfaces_example_has_no_error_at_30_day_terms() -> None:
    findings = lint_policy_file(parse_policy_file(INTERFACES_EXAMPLE), terms_days=30, known_templates=known_templates())
    assert not has_errors(findings), findings
    assert ("no_steps", None) in rules(findings)  # `gentle` as printed has no steps: legal, and said


def test_the_standard_policy_file_has_no_error_and_uses_every_policy() -> None:
    findings = lint_policy_file(parse_policy_file(STANDARD_FILE.read_text()), known_templates=known_templates())
    assert not has_errors(findings), findings
    assert {f.rule for f in findings} <= {"short_terms"}


def test_the_example_on_net_10_terms_says_which_steps_are_lost() -> None:
    findings = lint_policy_file(parse_policy_file(INTERFACES_EXAMPLE), terms_days=10)
    assert [f.step for f in only("first_touch_age", findings)] == ["pre_due", "due", "late_1"]
    assert "terms of at least 19 days" in only("first_touch_age", findings)[0].message
    assert only("min_touches", findings)[0].step == "final"


# --- rule by rule ----------------------------------------------------------------------------------------


def test_a_step_before_day_14_is_an_error_that_names_the_terms_it_needs() -> None:
    findings = lint(email("early", -20), email("late", 5))
    (finding,) = only("first_touch_age", findings)
    assert (finding.step, finding.severity) == ("early", "error")
    assert "falls on day 10" in finding.message and "terms of at least 34 days" in finding.message
    assert not only("first_touch_age", lint(email("early", -20), email("late", 5), terms=34))


def test_steps_that_shorter_terms_would_lose_are_one_warning_with_each_threshold() -> None:
    (finding,) = only("short_terms", lint(email("pre", -5), email("due", 0), email("late", 20)))
    assert finding.severity == "warning" and finding.step is None
    assert "'pre' under 19 days, 'due' under 14 days" in finding.message


def test_fewer_than_min_touches_before_a_final_step_is_an_error() -> None:
    findings = lint(email("a", 0), email("b", 5), email("final", 10, final=True))
    (finding,) = only("min_touches", findings)
    assert finding.step == "final" and "only 2 touches" in finding.message and "min_touches is 4" in finding.message
    assert not only("min_touches", lint(email("a", 0), email("b", 5), email("final", 10, final=True), min_touches=2))


def test_two_steps_on_one_day_count_as_one_touch_before_a_final_step() -> None:
    # With 30-day terms, "30 days after the invoice date" is the due date: one touch, not two.
    steps = (email("due", 0), email("day_30", 30, anchor="invoice_date"), email("late", 5))
    (finding,) = only("min_touches", lint(*steps, email("final", 10, final=True), min_touches=3))
    assert "only 2 touches" in finding.message


def test_a_call_before_any_email_is_an_error() -> None:
    (finding,) = only("personal_before_automated", lint(personal("call", 1), email("late", 3)))
    assert finding.step == "call" and "the first email or SMS, 'late', is on day 33" in finding.message
    assert only("personal_before_automated", lint(email("late", 3), personal("call", 3)))  # the same day too
    assert not only("personal_before_automated", lint(email("late", 3), personal("call", 4)))


def test_a_policy_of_letters_alone_breaks_the_automated_first_rule_at_every_step() -> None:
    findings = lint(personal("l1", 0, "letter"), personal("l2", 10, "letter"))
    assert [f.step for f in only("personal_before_automated", findings)] == ["l1", "l2"]


def test_an_invoice_date_step_before_the_first_touch_age_never_fires_whatever_the_terms() -> None:
    findings = lint(email("welcome", 5, anchor="invoice_date"), email("due", 0))
    assert rules(only("never_fires", findings)) == [("never_fires", "welcome")]
    assert not only("first_touch_age", findings)  # reported once, as what it is


def test_a_step_on_the_same_day_as_a_later_step_never_fires() -> None:
    findings = lint(email("one", 3), personal("two", 3, "letter"), email("pre", 0))
    (finding,) = only("never_fires", findings)
    assert finding.step == "one" and "same day as step 'two'" in finding.message


def test_a_step_after_the_agency_referral_never_fires() -> None:
    steps = [email(f"e{i}", i * 5) for i in range(4)]
    findings = lint(*steps, personal("agency", 30, "agency", final=True), email("after", 40))
    assert [f.step for f in only("never_fires", findings)] == ["after"]


def test_a_min_balance_below_the_tolerance_is_not_a_step_that_never_fires() -> None:
    low = Step("low", "due_date", 5, "email", template="past_due", min_balance=Decimal("0.50"))
    assert not only("never_fires", lint(email("due", 0), low))


def test_no_touch_by_the_due_date_is_a_warning() -> None:
    (finding,) = only("no_reminder_by_due_date", lint(email("late", 3)))
    assert finding.severity == "warning" and "the first touch is 'late' on day 33" in finding.message
    assert not only("no_reminder_by_due_date", lint(email("due", 0), email("late", 3)))


def test_steps_closer_than_min_gap_are_a_warning_on_the_later_one() -> None:
    (finding,) = only("min_gap", lint(email("due", 0), email("late", 1), min_gap_days=3))
    assert finding.step == "late" and "waits until day 33" in finding.message
    assert not only("min_gap", lint(email("due", 0), email("late", 3), min_gap_days=3))


def test_steps_with_different_anchors_meeting_on_one_day_are_a_gap_warning_for_those_terms() -> None:
    findings = lint(email("due", 0), email("day_30", 30, anchor="invoice_date"))
    assert [f.step for f in only("min_gap", findings)] == ["day_30"] and not only("never_fires", findings)
    assert not only("min_gap", lint(email("due", 0), email("day_30", 30, anchor="invoice_date"), terms=20))


def test_a_policy_without_steps_a_policy_nobody_uses_and_no_catch_all_segment_are_warnings() -> None:
    pf = PolicyFile(
        {"used": Policy("used", ()), "spare": Policy("spare", (email("day_20", 20, anchor="invoice_date"),))},
        (Segment("big", "used", SegmentMatch(min_open_balance=None, min_terms_days=60)),),
    )
    findings = lint_policy_file(pf)
    assert rules(findings) == [("no_steps", None), ("unused_policy", None), ("no_default_segment", None)]
    assert [f.policy for f in findings] == ["used", "spare", None]
    assert not has_errors(findings)


def test_a_policy_used_only_by_an_override_is_used() -> None:
    from shared.dunning.model import Override

    pf = PolicyFile(
        {"p": Policy("p", (email("due", 0),)), "q": Policy("q", (email("due", 0),))},
        (Segment("all", "p"),),
        invoice_overrides={"I1": Override(policy="q")},
    )
    assert not only("unused_policy", lint_policy_file(pf))


def test_an_unknown_template_is_an_error_unless_the_team_applied_it() -> None:
    policy = Policy("p", (Step("due", "due_date", 0, "email", template="my_stage"),))
    pf = PolicyFile({"p": policy}, (Segment("all", "p"),))
    (finding,) = only("unknown_template", lint_policy_file(pf, known_templates=TEMPLATES))
    assert finding.step == "due" and finding.severity == "error" and "neither built in" in finding.message
    own = {"my_stage.html": "<p>hi</p>", "my_stage.txt": "hi"}
    assert not only(
        "unknown_template",
        lint_policy_file(PolicyFile(pf.policies, pf.segments, templates=own), known_templates=TEMPLATES),
    )
    assert not only("unknown_template", lint_policy_file(pf))  # nothing known: not checked


def test_an_email_step_needs_a_template_with_both_email_bodies_while_sms_and_letters_fall_back() -> None:
    steps = (
        Step("mail", "due_date", 0, "email", template="past_due_sms"),
        Step("text", "due_date", 5, "sms", template="past_due"),
        Step("post", "due_date", 10, "letter", template="past_due"),
    )
    pf = PolicyFile({"p": Policy("p", steps)}, (Segment("all", "p"),))
    (finding,) = only("unknown_template", lint_policy_file(pf, known_templates=TEMPLATES))
    assert finding.step == "mail" and "lacks the HTML and text bodies of an email (it has: sms)" in finding.message


def test_findings_come_by_policy_then_step_order_with_the_files_own_last() -> None:
    a = Policy("a", (personal("call", 1), email("early", -20), email("late", 3)))
    b = Policy("b", (email("x", -25),))
    findings = lint_policy_file(PolicyFile({"b": b, "a": a}, (Segment("s", "a", SegmentMatch(min_terms_days=1)),)))
    assert [(f.policy, f.step, f.rule) for f in findings] == [
        ("b", None, "no_reminder_by_due_date"),
        ("b", None, "unused_policy"),
        ("b", "x", "first_touch_age"),
        ("a", None, "short_terms"),
        ("a", None, "no_reminder_by_due_date"),
        ("a", "call", "personal_before_automated"),
        ("a", "early", "first_touch_age"),
        ("a", "late", "min_gap"),
        (None, None, "no_default_segment"),
    ]


# --- properties ------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_finding_names_a_known_rule_policy_and_step_in_order(data: st.DataObject) -> None:
    pf = data.draw(policy_files())
    terms = data.draw(st.integers(0, 120))
    findings = lint_policy_file(pf, terms_days=terms)
    assert findings == lint_policy_file(pf, terms_days=terms)
    policies = list(pf.policies)
    positions = []
    for f in findings:
        assert f.severity == RULE_BY_ID[f.rule].severity
        if f.policy is None:
            positions.append((len(policies), -1))
            continue
        steps = [s.id for s in pf.policies[f.policy].steps]
        positions.append((policies.index(f.policy), -1 if f.step is None else steps.index(f.step)))
    assert positions == sorted(positions)
    for policy in pf.policies.values():
        never = {f.step for f in findings if f.policy == policy.name and f.rule == "never_fires"}
        young = {f.step for f in findings if f.policy == policy.name and f.rule == "first_touch_age"}
        assert not never & young
        expected = {
            s.id
            for s in policy.steps
            if s.anchor == "due_date" and terms + s.offset_days < policy.first_touch_min_age_days and s.id not in never
        }
        assert young == expected


@st.composite
def rule_abiding_policies(draw: st.DrawFn) -> tuple[Policy, int]:
    """A policy written by the rules: the first touch an email at or after the first-touch age, steps apart
    by at least min_gap_days, a reminder by the due date, calls and letters after the first email, final
    steps after min_touches touches, and nothing after an agency referral."""
    terms = draw(st.integers(14, 90))
    age = draw(st.integers(0, min(terms, 30)))
    gap = draw(st.integers(1, 7))
    min_touches = draw(st.integers(0, 5))
    day = draw(st.integers(age, terms))
    steps = [Step("s0", "due_date", day - terms, draw(st.sampled_from(("email", "sms"))), template="t")]
    for i in range(1, draw(st.integers(1, 10))):
        day += draw(st.integers(gap, gap + 10))
        channel = draw(st.sampled_from(("email", "sms", "call", "letter")))
        final = len(steps) >= min_touches and draw(st.booleans())
        anchor = draw(st.sampled_from(("due_date", "invoice_date")))
        offset = day - terms if anchor == "due_date" else day
        template = "t" if channel in ("email", "sms") else None
        steps.append(Step(f"s{i}", anchor, offset, channel, template=template, final=final))  # type: ignore[arg-type]
    if len(steps) >= min_touches and draw(st.booleans()):
        steps.append(Step("agency", "due_date", day + gap - terms, "agency", final=True))
    policy = Policy("p", tuple(steps), first_touch_min_age_days=age, min_touches=min_touches, min_gap_days=gap)
    return policy, terms


@settings(max_examples=100, deadline=None)
@given(rule_abiding_policies())
def test_a_policy_that_follows_every_rule_has_no_error_and_no_gap_warning(case: tuple[Policy, int]) -> None:
    policy, terms = case
    findings = lint_policy_file(PolicyFile({"p": policy}, (Segment("all", "p"),)), terms_days=terms)
    assert not has_errors(findings), findings
    assert {f.rule for f in findings} <= {"short_terms"}


def test_every_rule_is_documented_for_the_ar_team() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "policies.md").read_text()
    for rule in RULES:
        assert f"| `{rule.id}` | {rule.severity} |" in docs, rule.id


def test_on_net_0_the_example_loses_its_early_steps_and_calls_before_any_email() -> None:
    findings = lint_policy_file(parse_policy_file(INTERFACES_EXAMPLE), terms_days=0)
    assert [f.step for f in only("first_touch_age", findings)] == ["pre_due", "due", "late_1", "late_sms"]
    assert [f.step for f in only("personal_before_automated", findings)] == ["call_1"]
    assert not has_errors(lint_policy_file(parse_policy_file(INTERFACES_EXAMPLE), terms_days=365))
