"""The policy file as an AR manager writes it: the INTERFACES.md example applies as printed, every problem of
a bad file is reported at once with its line, amounts and times read exactly as written, and the stored
form gives back the very file that was applied.

The hypothesis strategies at the end (policy files, and the YAML a person would write for one) are shared
with the lint and resolution tests."""

from __future__ import annotations

import json
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.dunning.model import (
    CHANNELS,
    WEEKDAYS,
    Override,
    Policy,
    PolicyFile,
    Segment,
    SegmentMatch,
    SendWindow,
    Step,
)
from shared.dunning.policy import (
    MAX_POLICY_FILE_BYTES,
    PolicyFileError,
    parse_policy_file,
    policy_file_from_document,
    policy_file_to_document,
)

# INTERFACES.md, "Dunning policy file (YAML)", verbatim.
INTERFACES_EXAMPLE = (Path(__file__).resolve().parents[1] / "fixtures" / "interfaces-example-policy.yaml").read_text()


def problems_of(text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(PolicyFileError) as raised:
        parse_policy_file(text, **kwargs)
    assert raised.value.code == "bad_policy"
    return raised.value.details


def one_policy(
    extra: str = "", step: str = "{id: s1, anchor: due_date, offset_days: 0, channel: email, template: t}"
) -> str:
    """A one-policy file with `extra` policy keys (indented to sit under the policy) and one step."""
    return f"policies:\n  - name: p\n{extra}    steps:\n      - {step}\n"


# --- the example -----------------------------------------------------------------------------------------


def test_the_interfaces_example_parses_as_printed_with_a_stepless_gentle_policy() -> None:
    pf = parse_policy_file(INTERFACES_EXAMPLE)

    standard = pf.policies["standard"]
    assert [s.id for s in standard.steps] == [
        "pre_due",
        "due",
        "late_1",
        "late_sms",
        "call_1",
        "firm",
        "final",
        "agency",
    ]
    assert standard.steps[0] == Step(
        id="pre_due", anchor="due_date", offset_days=-5, channel="email", template="pre_due"
    )
    assert standard.steps[-1].final and standard.steps[-1].channel == "agency" and standard.steps[-1].template is None
    assert standard.send_window == SendWindow(time(9), time(17), frozenset(range(5)), "US")
    assert pf.policies["gentle"] == Policy(name="gentle", steps=())
    assert pf.segments == (
        Segment("strategic", "gentle", SegmentMatch(min_open_balance=Decimal("100000"))),
        Segment("default", "standard"),
    )


def test_a_policy_without_settings_takes_the_documented_defaults() -> None:
    policy = parse_policy_file(one_policy()).policies["p"]
    assert (policy.first_touch_min_age_days, policy.min_touches, policy.min_gap_days, policy.promise_grace_days) == (
        14,
        4,
        3,
        3,
    )
    assert policy.tolerance == Decimal("1.00") and policy.send_window == SendWindow()
    assert parse_policy_file(one_policy()).segments == ()


# --- every problem, each with its line -------------------------------------------------------------------

BAD_FILE = """\
policies:
  - name: standard
    min_touches: "4"
    tolerance: .nan
    colour: red
    send_window: {start: "9am", end: "17:00", weekdays: [mon, funday], holidays: XX}
    steps:
      - {id: a, anchor: due, offset_days: 1.5, channel: fax}
      - {id: a, anchor: due_date, offset_days: 3, channel: email}
  - name: standard
segments:
  - {name: s, policy: nope, match: {countries: [USA]}}
"""


def test_a_bad_file_reports_every_problem_at_once_each_with_its_line() -> None:
    problems = problems_of(BAD_FILE)

    expected = [
        ("line 3: ", "`min_touches` must be a whole number"),
        ("line 4: ", "`tolerance` must be a finite amount"),
        ("line 5: ", "unknown key 'colour'"),
        ("line 6: ", '`start` must be a time of day such as "09:00"'),
        ("line 6: ", "weekday 'funday' is not one of mon, tue"),
        ("line 6: ", "holidays 'XX' is not a country"),
        ("line 8: ", "anchor 'due' is not one of invoice_date, due_date"),
        ("line 8: ", "channel 'fax' is not one of email, sms, call, letter, agency"),
        ("line 8: ", "`offset_days` must be a whole number, not '1.5'"),
        ("line 9: ", "an email step needs a `template`"),
        ("line 9: ", "a step of this id is defined above"),
        ("line 10: ", "a policy of this name is defined above"),
        ("line 12: ", "'USA' is not an ISO 3166 country code"),
        ("line 12: ", "no policy is named 'nope'"),
    ]
    for line, words in expected:
        assert any(p.startswith(line) and words in p for p in problems), (line, words, problems)
    assert len(problems) == len(expected)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (one_policy("    min_gap_days: -1\n"), 3, "`min_gap_days` must be between 0 and 365, not -1"),
        (one_policy("    first_touch_min_age_days: true\n"), 3, "must be a whole number"),
        (one_policy('    send_window: {start: "25:00"}\n'), 3, "`start` must be a time of day"),
        (one_policy('    send_window: {start: "17:00", end: "09:00"}\n'), 3, "`end` must be later than `start`"),
        (one_policy("    send_window: {weekdays: []}\n"), 3, "nothing would ever be sent"),
        (one_policy("    send_window: {holidays: US-ZZ}\n"), 3, "US has no subdivision 'ZZ'"),
        (one_policy("    send_window: [09:00]\n"), 3, "must be a mapping"),
        (one_policy("    tolerance: -5\n"), 3, "`tolerance` must not be negative"),
        (one_policy("    tolerance: .inf\n"), 3, "must be a finite amount"),
        (one_policy("    tolerance: 1e3\n"), 3, "without an exponent"),
        (one_policy(step="{id: s1, anchor: due_date, offset_days: 0, channel: sms}"), 4, "an sms step needs a"),
        (one_policy(step="{id: s1, anchor: due_date, offset_days: 0, channel: email, template: }"), 4, "needs a"),
        (one_policy(step="{id: s1, anchor: due_date, channel: call}"), 4, "`offset_days` is required"),
        (one_policy(step="{id: s1, anchor: due_date, offset_days: 99999, channel: call}"), 4, "between -3650 and"),
        (
            one_policy(step="{id: s1, anchor: due_date, offset_days: 1, channel: call, final: maybe}"),
            4,
            "true or false",
        ),
        (one_policy(step="{id: 's 1', anchor: due_date, offset_days: 1, channel: call}"), 4, "must be letters, digits"),
        (
            one_policy(step="{id: s1, anchor: due_date, offset_days: 1, channel: call, min_balance: 1.2.3}"),
            4,
            "min_balance",
        ),
        (
            one_policy(step="{id: s1, anchor: due_date, offset_days: !!python/int 1, channel: call}"),
            4,
            "is not supported",
        ),
        ("policies:\n  - name: p\n    name: q\n", 3, "`name` is given twice"),
        ("policies:\n  - steps: []\n", 2, "`name` is required"),
        ("policies: {}\n", 1, "must be a list of policies"),
        ("segments: []\n", 1, "the policy file has no `policies:` list"),
        ("- a\n- b\n", 1, "must be a mapping with the keys policies, segments, overrides"),
        ("policies: []\nrules: {}\n", 2, "unknown key 'rules'"),
    ],
)
def test_a_wrong_value_is_named_with_its_line(text: str, line: int, words: str) -> None:
    problems = problems_of(text)
    assert any(p.startswith(f"line {line}:") and words in p for p in problems), problems


def test_invalid_yaml_is_one_problem_with_line_and_column() -> None:
    problems = problems_of("policies:\n  - name: p\n    steps: [a, b\n")
    assert len(problems) == 1 and problems[0].startswith("line 4, column 1:")


def test_an_empty_file_is_refused_with_what_it_should_hold() -> None:
    with pytest.raises(PolicyFileError, match="empty"):
        parse_policy_file("# nothing yet\n")


def test_a_file_over_one_mebibyte_is_refused_before_it_is_read() -> None:
    with pytest.raises(PolicyFileError, match="at most 1048576"):
        parse_policy_file("# " + "x" * MAX_POLICY_FILE_BYTES)


def test_more_than_200_policies_or_steps_are_refused() -> None:
    many_policies = "policies:\n" + "".join(f"  - name: p{i}\n" for i in range(201))
    assert any("201 policies; at most 200" in p for p in problems_of(many_policies))
    many_steps = one_policy(step="{id: s0, anchor: due_date, offset_days: 0, channel: call}") + "".join(
        f"      - {{id: s{i}, anchor: due_date, offset_days: 0, channel: call}}\n" for i in range(1, 201)
    )
    assert any("201 steps; at most 200" in p for p in problems_of(many_steps))


def test_a_flood_of_problems_is_cut_to_the_first_200_with_the_count() -> None:
    text = "policies:\n  - name: p\nsegments:\n  - {name: s, policy: p, match: {countries: [" + "1, " * 500 + "]}}\n"
    with pytest.raises(PolicyFileError) as raised:
        parse_policy_file(text)
    assert raised.value.message == "the policy file has 500 problems; nothing was applied"
    assert len(raised.value.details) == 201 and raised.value.details[-1] == "... and 300 more"


def test_a_segment_or_override_naming_an_unknown_policy_is_refused_wherever_it_stands() -> None:
    text = (
        "segments:\n  - {name: a, policy: ghost}\n"
        "policies:\n  - name: p\n"
        "overrides:\n  customers:\n    C1: {policy: phantom}\n  invoices:\n    I1: {policy: p}\n"
    )
    problems = problems_of(text)
    assert problems == [
        "line 2: segment 'a': no policy is named 'ghost'",
        "line 7: overrides, customer 'C1': no policy is named 'phantom'",
    ]


@pytest.mark.parametrize("override", ["{}", "{policy: p, exclude: true}", "{exclude: false}", "{pause: true}"])
def test_an_override_is_either_a_policy_or_an_exclusion(override: str) -> None:
    problems = problems_of(f"policies:\n  - name: p\noverrides:\n  invoices:\n    I1: {override}\n")
    assert problems and all(p.startswith("line 5:") for p in problems)


def test_an_override_listed_twice_is_refused() -> None:
    text = "policies:\n  - name: p\noverrides:\n  customers:\n    C1: {exclude: true}\n    C1: {policy: p}\n"
    assert problems_of(text) == ["line 6: overrides, customer 'C1': is listed twice"]


def test_a_customer_assigned_by_hand_to_two_segments_is_refused() -> None:
    text = (
        "policies:\n  - name: p\nsegments:\n"
        "  - {name: a, policy: p, customers: [C1, C2]}\n  - {name: b, policy: p, customers: C2}\n"
    )
    assert problems_of(text) == ["line 5: segment 'b': customer 'C2' is already assigned to 'a'"]


def test_duplicate_segment_names_are_refused() -> None:
    text = "policies:\n  - name: p\nsegments:\n  - {name: a, policy: p}\n  - {name: a, policy: p}\n"
    assert problems_of(text) == ["line 5: segment 'a': a segment of this name is defined above"]


def test_a_problem_quotes_the_files_text_inert_and_short() -> None:
    problems = problems_of('policies:\n  - name: p\n    "\\e[2J\\u202e' + "x" * 200 + '": 1\n')
    assert len(problems) == 1
    assert "\x1b" not in problems[0] and "\u202e" not in problems[0] and "\\x1b" in problems[0]
    assert len(problems[0]) < 300


# --- reading values exactly ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "amount"),
    [("1000", "1000"), ("1000.50", "1000.50"), ('"1,000.50"', "1000.50"), ("100_000", "100000"), ("0.1", "0.1")],
)
def test_amounts_read_exactly_quoted_or_not(written: str, amount: str) -> None:
    text = (
        f"policies:\n  - name: p\n    tolerance: {written}\n"
        f"segments:\n  - {{name: s, policy: p, match: {{max_open_balance: {written}}}}}\n"
    )
    pf = parse_policy_file(text)
    assert pf.policies["p"].tolerance == Decimal(amount)
    assert str(pf.segments[0].match.max_open_balance) == amount


def test_yaml_1_1_surprises_read_as_the_author_meant() -> None:
    # Unquoted, YAML 1.1 reads 17:00 as the number 1020, NO as false and 014 as octal 12.
    pf = parse_policy_file(
        "policies:\n  - name: p\n    first_touch_min_age_days: 014\n"
        "    send_window: {start: 9:30, end: 17:00, holidays: NO}\n"
        "segments:\n  - {name: nordic, policy: p, match: {countries: [NO, SE]}}\n"
    )
    policy = pf.policies["p"]
    assert policy.first_touch_min_age_days == 14
    assert (policy.send_window.start, policy.send_window.end, policy.send_window.holidays) == (
        time(9, 30),
        time(17),
        "NO",
    )
    assert pf.segments[0].match.countries == frozenset({"NO", "SE"})


def test_holidays_take_a_country_a_subdivision_or_the_customers_own_country() -> None:
    for written, kept in (("us", "US"), ("US-NY", "US-NY"), ("CA-ON", "CA-ON"), ("customer", "customer")):
        pf = parse_policy_file(one_policy(f"    send_window: {{holidays: {written}}}\n"))
        assert pf.policies["p"].send_window.holidays == kept


def test_weekdays_take_short_or_full_names_in_any_case() -> None:
    pf = parse_policy_file(one_policy("    send_window: {weekdays: [Mon, tuesday, SAT]}\n"))
    assert pf.policies["p"].send_window.weekdays == frozenset({0, 1, 5})


def test_segment_match_lists_take_one_value_or_a_list_and_currencies_are_checked() -> None:
    pf = parse_policy_file(
        "policies:\n  - name: p\nsegments:\n"
        "  - {name: s, policy: p, match: {countries: us, currencies: [usd, EUR], origins: erp}}\n"
    )
    match = pf.segments[0].match
    assert (match.countries, match.currencies, match.origins) == (
        frozenset({"US"}),
        frozenset({"USD", "EUR"}),
        frozenset({"erp"}),
    )
    problems = problems_of("policies:\n  - name: p\nsegments:\n  - {name: s, policy: p, match: {currencies: [ZZZ]}}\n")
    assert problems == ["line 4: segment 's', match: currencies: 'ZZZ' is not an ISO 4217 currency code such as USD"]


def test_contradictory_segment_bounds_are_refused() -> None:
    text = (
        "policies:\n  - name: p\nsegments:\n  - name: s\n    policy: p\n"
        "    match: {min_open_balance: 10, max_open_balance: 5, min_terms_days: 60, max_terms_days: 30}\n"
    )
    problems = problems_of(text)
    assert [p.split(": ", 2)[-1] for p in problems] == [
        "`max_open_balance` is below `min_open_balance`",
        "`max_terms_days` is below `min_terms_days`",
    ]


# --- templates -------------------------------------------------------------------------------------------


def test_templates_are_kept_with_the_file() -> None:
    templates = {"past_due.html": "<p>{{ customer_name }}</p>", "past_due_sms.sms": "Pay {{ total }}"}
    assert parse_policy_file(one_policy(), templates=templates).templates == templates


@pytest.mark.parametrize(
    ("name", "source", "words"),
    [
        ("past_due.pdf", "x", "a template is named NAME.html, NAME.txt, NAME.subject, NAME.sms, NAME.letter"),
        ("../etc.html", "x", "a template is named"),
        ("past_due.html", "line one\n{% if %}\n", "template past_due.html, line 2:"),
        ("past_due.txt", "{{ name ", "template past_due.txt, line 1:"),
        ("big.txt", "x" * (64 * 1024 + 1), "a template is at most 65536"),
    ],
)
def test_a_bad_template_is_refused_with_its_own_line(name: str, source: str, words: str) -> None:
    problems = problems_of(one_policy(), templates={name: source})
    assert len(problems) == 1 and words in problems[0], problems


def test_template_and_file_problems_are_reported_together() -> None:
    problems = problems_of(one_policy("    min_touches: x\n"), templates={"past_due.html": "{% endif %}"})
    assert len(problems) == 2
    assert problems[0].startswith("line 3:") and problems[1].startswith("template past_due.html, line 1:")


def test_a_new_email_stage_needs_both_bodies() -> None:
    problems = problems_of(one_policy(), templates={"courtesy.html": "<p>Hello</p>"})
    assert problems == ["template courtesy.txt: an email needs both an HTML and a text body"]


# --- the stored form -------------------------------------------------------------------------------------


def test_the_stored_document_is_json_and_gives_back_the_applied_file() -> None:
    pf = parse_policy_file(
        INTERFACES_EXAMPLE + "overrides:\n  customers: {C1: {exclude: true}}\n  invoices: {I9: {policy: gentle}}\n",
        templates={"pre_due.html": "<p>hi</p>"},
    )
    document = json.loads(json.dumps(policy_file_to_document(pf)))
    assert policy_file_from_document(document) == pf


def test_a_stored_document_of_another_format_is_refused() -> None:
    with pytest.raises(PolicyFileError, match="format"):
        policy_file_from_document({"format": 99, "policies": [], "segments": []})


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_policy_file_written_as_yaml_reads_back_exactly(data: st.DataObject) -> None:
    pf = data.draw(policy_files())
    assert parse_policy_file(as_yaml(pf)) == pf


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_policy_file_survives_the_stored_document_unchanged(data: st.DataObject) -> None:
    pf = data.draw(policy_files())
    templates = data.draw(st.dictionaries(st.sampled_from(["a.html", "a.txt", "b.sms"]), st.text(max_size=20)))
    pf = PolicyFile(pf.policies, pf.segments, pf.customer_overrides, pf.invoice_overrides, templates)
    assert policy_file_from_document(json.loads(json.dumps(policy_file_to_document(pf)))) == pf


# --- strategies (shared with test_policy_lint.py and test_policy_resolution.py) ---------------------------

names = st.builds(lambda first, rest: first + rest, st.sampled_from("abcdefgh"), st.text("abcdefgh0123_", max_size=6))
amounts = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)
customer_ids = st.integers(1, 9999).map(lambda i: f"C-{i}")


@st.composite
def steps(draw: st.DrawFn, step_id: str) -> Step:
    channel = draw(st.sampled_from(CHANNELS))
    needs_template = channel in ("email", "sms")
    return Step(
        id=step_id,
        anchor=draw(st.sampled_from(("invoice_date", "due_date"))),
        offset_days=draw(st.integers(-60, 120)),
        channel=channel,
        template=draw(names if needs_template else st.none() | names),
        final=draw(st.booleans()),
        min_balance=draw(st.none() | amounts),
    )


@st.composite
def send_windows(draw: st.DrawFn) -> SendWindow:
    start = draw(st.integers(0, 22 * 60))
    end = draw(st.integers(start + 1, 23 * 60 + 59))
    return SendWindow(
        start=time(start // 60, start % 60),
        end=time(end // 60, end % 60),
        weekdays=frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
        holidays=draw(st.sampled_from((None, "US", "US-NY", "GB", "DE", "NO", "customer"))),
    )


@st.composite
def policies(draw: st.DrawFn, name: str) -> Policy:
    ids = draw(st.lists(names, unique=True, max_size=6))
    return Policy(
        name=name,
        steps=tuple(draw(steps(step_id)) for step_id in ids),
        first_touch_min_age_days=draw(st.integers(0, 30)),
        min_touches=draw(st.integers(0, 6)),
        min_gap_days=draw(st.integers(0, 10)),
        tolerance=draw(amounts),
        send_window=draw(send_windows()),
        promise_grace_days=draw(st.integers(0, 10)),
    )


@st.composite
def matches(draw: st.DrawFn) -> SegmentMatch:
    low, high = sorted(draw(st.lists(amounts, min_size=2, max_size=2)))
    short, long = sorted(draw(st.lists(st.integers(0, 120), min_size=2, max_size=2)))
    return SegmentMatch(
        min_open_balance=draw(st.none() | st.just(low)),
        max_open_balance=draw(st.none() | st.just(high)),
        min_terms_days=draw(st.none() | st.just(short)),
        max_terms_days=draw(st.none() | st.just(long)),
        countries=draw(st.none() | st.frozensets(st.sampled_from(("US", "CA", "DE", "NO")), min_size=1)),
        currencies=draw(st.none() | st.frozensets(st.sampled_from(("USD", "EUR", "JPY")), min_size=1)),
        origins=draw(st.none() | st.frozensets(st.sampled_from(("erp", "invited")), min_size=1)),
    )


@st.composite
def policy_files(draw: st.DrawFn, *, with_policies: bool = True) -> PolicyFile:
    """Generated files; `with_policies=False` keeps each policy bare (name only), for tests of segments."""
    policy_names = draw(st.lists(names, unique=True, min_size=1, max_size=3))
    chosen = st.sampled_from(policy_names)
    segment_names = draw(st.lists(names, unique=True, max_size=4))
    hand_assigned = draw(st.lists(customer_ids, unique=True, max_size=6))
    segments = []
    for i, name in enumerate(segment_names):
        mine = hand_assigned[i :: max(len(segment_names), 1)]
        segments.append(
            Segment(
                name=name,
                policy=draw(chosen),
                match=draw(matches()),
                customers=frozenset(mine),
                require_verified_master_data=draw(st.booleans()),
            )
        )
    overrides = st.dictionaries(
        customer_ids, st.builds(Override, policy=chosen) | st.just(Override(exclude=True)), max_size=3
    )
    return PolicyFile(
        policies={name: draw(policies(name)) if with_policies else Policy(name, ()) for name in policy_names},
        segments=tuple(segments),
        customer_overrides=draw(overrides),
        invoice_overrides=draw(overrides),
    )


def as_yaml(policy_file: PolicyFile) -> str:
    """The file an AR manager would write for `policy_file`: only the keys that differ from nothing, amounts
    and times as quoted text."""
    document: dict[str, Any] = {"policies": [_policy(p) for p in policy_file.policies.values()]}
    if policy_file.segments:
        document["segments"] = [_segment(s) for s in policy_file.segments]
    overrides = {
        kind: {key: _override(o) for key, o in table.items()}
        for kind, table in (("customers", policy_file.customer_overrides), ("invoices", policy_file.invoice_overrides))
        if table
    }
    if overrides:
        document["overrides"] = overrides
    return yaml.safe_dump(document, sort_keys=False)


def _policy(policy: Policy) -> dict[str, Any]:
    window = policy.send_window
    return {
        "name": policy.name,
        "first_touch_min_age_days": policy.first_touch_min_age_days,
        "min_touches": policy.min_touches,
        "min_gap_days": policy.min_gap_days,
        "tolerance": str(policy.tolerance),
        "promise_grace_days": policy.promise_grace_days,
        "send_window": {
            "start": f"{window.start:%H:%M}",
            "end": f"{window.end:%H:%M}",
            "weekdays": [WEEKDAYS[d] for d in sorted(window.weekdays)],
            "holidays": window.holidays,
        },
        "steps": [_step(step) for step in policy.steps],
    }


def _step(step: Step) -> dict[str, Any]:
    written: dict[str, Any] = {
        "id": step.id,
        "anchor": step.anchor,
        "offset_days": step.offset_days,
        "channel": step.channel,
        "final": step.final,
    }
    if step.template is not None:
        written["template"] = step.template
    if step.min_balance is not None:
        written["min_balance"] = str(step.min_balance)
    return written


def _segment(segment: Segment) -> dict[str, Any]:
    match = {key: _plain(value) for key, value in vars(segment.match).items() if value is not None}
    written: dict[str, Any] = {"name": segment.name, "policy": segment.policy, "match": match}
    if segment.customers:
        written["customers"] = sorted(segment.customers)
    written["require_verified_master_data"] = segment.require_verified_master_data
    return written


def _override(override: Override) -> dict[str, Any]:
    return {"exclude": True} if override.exclude else {"policy": override.policy}


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset):
        return sorted(value)
    return value
