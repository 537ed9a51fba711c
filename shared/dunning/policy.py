"""The dunning policy file (INTERFACES.md): YAML in, `PolicyFile` out, and which policy an invoice gets.

An AR manager writes this file by hand, so a bad one must say everything that is wrong with it at once,
each problem with its line, and nothing may be applied from it. The YAML is composed into nodes (never
constructed into Python objects) and read field by field: every node keeps its line, unknown keys and
wrong types are named, and YAML 1.1's surprises cannot change a value behind the author's back — the raw
text of a scalar is read, so `holidays: NO` is Norway (not false), `start: 9:00` is nine o'clock (not
the sexagesimal 540) and amounts are exact decimals, never floats.

Resolution is pure: the file, a customer and optionally an invoice → the segment and the policy (or why
there is none). Overrides win over segments; an invoice's over its customer's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache
from typing import Any, Literal, TypeVar, cast, get_args

import yaml

from shared.dunning.model import (
    CHANNELS,
    WEEKDAYS,
    Anchor,
    Channel,
    CustomerState,
    InvoiceState,
    Override,
    Policy,
    PolicyFile,
    Segment,
    SegmentMatch,
    SendWindow,
    Step,
)
from shared.errors import DomainError, ValidationError
from shared.money import currency_exponent, normalise_currency, parse_amount, quoted

MAX_POLICY_FILE_BYTES = 1 << 20
MAX_POLICIES = 200
MAX_STEPS = 200  # per policy
MAX_SEGMENTS = 200
MAX_TEMPLATE_BYTES = 64 * 1024
MAX_PROBLEMS_SHOWN = 200
MAX_DAYS = 3650  # offsets, ages and terms: ten years is beyond any real schedule, and keeps date arithmetic sane
TEMPLATE_KINDS = ("html", "txt", "subject", "sms", "letter")  # the forms shared/dunning/render.py renders
DOCUMENT_FORMAT = 1
ANCHORS: tuple[Anchor, ...] = get_args(Anchor)
ORIGINS = ("erp", "invited")
HOLIDAYS_OF_CUSTOMER = "customer"

# Why a customer's or an invoice's policy is None (Resolution.excluded_by).
ExcludedBy = Literal["invoice_override", "invoice_excluded", "customer_override", "no_segment", "unknown_policy"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_TEMPLATE_KEY = re.compile(rf"({_TEMPLATE_NAME.pattern})\.({'|'.join(TEMPLATE_KINDS)})")
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_COUNTRY = re.compile(r"[A-Z]{2}")
_YAML_TAG = "tag:yaml.org,2002:"
_NULL, _BOOL, _STR = f"{_YAML_TAG}null", f"{_YAML_TAG}bool", f"{_YAML_TAG}str"
_INT, _FLOAT = f"{_YAML_TAG}int", f"{_YAML_TAG}float"
# libyaml's parser when PyYAML was built with it (twenty times faster); the same nodes, marks and tags.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SCALAR_TAGS = frozenset({_NULL, _BOOL, _STR, _INT, _FLOAT, f"{_YAML_TAG}timestamp"})
_TRUE, _FALSE = frozenset({"true", "yes", "on", "y"}), frozenset({"false", "no", "off", "n"})
_DAY_NAMES = {
    **{name: i for i, name in enumerate(WEEKDAYS)},
    **{
        name: i for i, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    },
}

_TOP_KEYS = ("policies", "segments", "overrides")
_POLICY_KEYS = (
    "name",
    "first_touch_min_age_days",
    "min_touches",
    "min_gap_days",
    "tolerance",
    "send_window",
    "promise_grace_days",
    "steps",
)
_STEP_KEYS = ("id", "anchor", "offset_days", "channel", "template", "final", "min_balance")
_WINDOW_KEYS = ("start", "end", "weekdays", "holidays")
_SEGMENT_KEYS = ("name", "policy", "match", "customers", "require_verified_master_data")
_MATCH_KEYS = (
    "min_open_balance",
    "max_open_balance",
    "min_terms_days",
    "max_terms_days",
    "countries",
    "currencies",
    "origins",
)
_OVERRIDES_KEYS = ("customers", "invoices")
_OVERRIDE_KEYS = ("policy", "exclude")


class PolicyFileError(DomainError):
    """The policy file cannot be applied: `details` holds every problem found, each as "line N: ..."."""

    code = "bad_policy"


@dataclass(frozen=True)
class Resolution:
    """The segment a customer is in, and the policy an invoice of it follows (None: not dunned, and why)."""

    segment: Segment | None
    policy: Policy | None
    excluded_by: ExcludedBy | None = None


# --- parsing ---------------------------------------------------------------------------------------------


def parse_policy_file(text: str, *, templates: dict[str, str] | None = None) -> PolicyFile:
    """The policy file as `PolicyFile`, with the AR team's own templates ("past_due.html" -> Jinja2 source);
    PolicyFileError listing every problem (YAML's line for each; a template's own line) otherwise."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_POLICY_FILE_BYTES:
        raise PolicyFileError(f"the policy file is {size} bytes long; a policy file is at most {MAX_POLICY_FILE_BYTES}")
    root = _compose(text)
    reader = _Reader()
    policy_file = reader.policy_file(root)
    problems = [f"line {line}: {message}" for line, message in sorted(reader.problems, key=lambda p: p[0])]
    problems += template_problems(templates or {})
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        if len(problems) > MAX_PROBLEMS_SHOWN:  # a file of a thousand bad ids needs the first few, not a flood
            problems = [*problems[:MAX_PROBLEMS_SHOWN], f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more"]
        raise PolicyFileError(f"the policy file has {count}; nothing was applied", details=problems)
    return replace(policy_file, templates=dict(templates or {}))


def _compose(text: str) -> yaml.Node:
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise PolicyFileError("the policy file is not valid YAML", details=[_yaml_problem(exc)]) from exc
    if root is None:
        raise PolicyFileError("the policy file is empty", details=["line 1: expected `policies:` (and `segments:`)"])
    return root


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    said = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    problem = " ".join(" ".join(str(part) for part in said if part).split()) or "it cannot be read"
    problem = quoted(problem, 120)[1:-1]  # yaml's words may quote an anchor's or a tag's name from the file
    if mark is None:
        return f"line 1: {problem}"
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def template_problems(templates: dict[str, str]) -> list[str]:
    """What is wrong with the AR team's templates: their names (`NAME.html`, `.txt`, `.subject`, `.sms`,
    `.letter`) and sizes here; their Jinja2 syntax (with the template's line) and completeness (an email
    needs both bodies) as the renderer that will send them sees it."""
    problems = []
    for name, source in templates.items():
        shown = quoted(name, 80)
        if not _TEMPLATE_KEY.fullmatch(name):
            problems.append(f"template {shown}: a template is named NAME.{', NAME.'.join(TEMPLATE_KINDS)}")
            continue
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > MAX_TEMPLATE_BYTES:
            problems.append(f"template {shown}: {size} bytes long; a template is at most {MAX_TEMPLATE_BYTES}")
    if problems or not templates:
        return problems
    from shared.dunning.render import validate_templates  # only a file applied with templates pays for Jinja2

    return [f"template {problem}" for problem in validate_templates(templates)]


T = TypeVar("T")
_DEFAULTS = Policy(name="", steps=())  # a key left out takes model.py's default


class _Reader:
    """Walks the composed YAML, collecting (line, problem) pairs and building the model with defaults where a
    value was bad: the result is only returned when no problem was found."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []
        # (node, where, policy name) for every segment and override: checked once every policy is known.
        self.references: list[tuple[yaml.Node, str, str]] = []

    def problem(self, node: yaml.Node, where: str, message: str) -> None:
        self.problems.append((node.start_mark.line + 1, f"{where}: {message}" if where else message))

    # --- the file's structure ---

    def policy_file(self, root: yaml.Node) -> PolicyFile:
        fields = self.mapping(root, "the policy file", _TOP_KEYS)
        if fields is None:
            return PolicyFile(policies={}, segments=())
        policies_node = fields.get("policies")
        if policies_node is None:
            self.problem(root, "", "the policy file has no `policies:` list")
        policies = self.policies(policies_node) if policies_node is not None else {}
        segments = self.segments(fields["segments"]) if "segments" in fields else ()
        customers, invoices = self.overrides(fields["overrides"]) if "overrides" in fields else ({}, {})
        for node, where, name in self.references:
            if name not in policies:
                self.problem(node, where, f"no policy is named {quoted(name)}")
        return PolicyFile(
            policies={name: policy for name, (policy, _) in policies.items()},
            segments=tuple(segment for segment, _ in segments),
            customer_overrides={key: override for key, (override, _) in customers.items()},
            invoice_overrides={key: override for key, (override, _) in invoices.items()},
        )

    def policies(self, node: yaml.Node) -> dict[str, tuple[Policy, yaml.Node]]:
        items = self.sequence(node, "policies", MAX_POLICIES, "policies")
        policies: dict[str, tuple[Policy, yaml.Node]] = {}
        for index, item in enumerate(items):
            read = self.policy(item, index)
            if read is None:
                continue
            policy, name_node = read
            if policy.name in policies:
                self.problem(name_node, f"policy {quoted(policy.name)}", "a policy of this name is defined above")
                continue
            policies[policy.name] = (policy, name_node)
        return policies

    def policy(self, node: yaml.Node, index: int) -> tuple[Policy, yaml.Node] | None:
        where = _where(node, "name", "policy", index)
        fields = self.mapping(node, where, _POLICY_KEYS)
        if fields is None:
            return None
        name = self.name(fields, node, where, "name")
        steps = self.steps(fields.get("steps"), where)
        policy = Policy(
            name=name or "",
            steps=steps,
            first_touch_min_age_days=self.days(
                fields, "first_touch_min_age_days", where, _DEFAULTS.first_touch_min_age_days, 0
            ),
            min_touches=self.days(fields, "min_touches", where, _DEFAULTS.min_touches, 0, 100),
            min_gap_days=self.days(fields, "min_gap_days", where, _DEFAULTS.min_gap_days, 0, 365),
            tolerance=_or(self.amount(fields.get("tolerance"), where, "tolerance"), _DEFAULTS.tolerance),
            send_window=self.send_window(fields.get("send_window"), where),
            promise_grace_days=self.days(fields, "promise_grace_days", where, _DEFAULTS.promise_grace_days, 0, 365),
        )
        return (policy, fields["name"]) if name else None

    def steps(self, node: yaml.Node | None, where: str) -> tuple[Step, ...]:
        if node is None or _is_null(node):
            return ()  # a policy without steps sends nothing: legal ("no reminders"), and lint says so
        steps: list[Step] = []
        seen: set[str] = set()
        for index, item in enumerate(self.sequence(node, f"{where}, steps", MAX_STEPS, "steps")):
            step = self.step(item, where, index)
            if step is None:
                continue
            if step.id in seen:
                self.problem(item, f"{where}, step {quoted(step.id)}", "a step of this id is defined above")
                continue
            seen.add(step.id)
            steps.append(step)
        return tuple(steps)

    def step(self, node: yaml.Node, policy_where: str, index: int) -> Step | None:
        where = f"{policy_where}, {_where(node, 'id', 'step', index)}"
        fields = self.mapping(node, where, _STEP_KEYS)
        if fields is None:
            return None
        step_id = self.name(fields, node, where, "id")
        anchor = self.choice(fields, node, where, "anchor", ANCHORS)
        channel = self.choice(fields, node, where, "channel", CHANNELS)
        offset = self.integer(fields.get("offset_days"), where, "offset_days", -MAX_DAYS, MAX_DAYS)
        if "offset_days" not in fields:
            self.problem(node, where, "`offset_days` is required (days after the anchor date; negative: before)")
        template_node = fields.get("template")
        template = self.template_name(template_node, where)
        if channel in ("email", "sms") and (template_node is None or _is_null(template_node)):
            self.problem(node, where, f"an {channel} step needs a `template`")
        final = self.boolean(fields.get("final"), where, "final")
        if step_id is None:
            return None
        return Step(
            id=step_id,
            anchor=cast(Anchor, anchor or "due_date"),
            offset_days=offset or 0,
            channel=cast(Channel, channel or "email"),
            template=template,
            final=bool(final),
            min_balance=self.amount(fields.get("min_balance"), where, "min_balance"),
        )

    def send_window(self, node: yaml.Node | None, policy_where: str) -> SendWindow:
        where = f"{policy_where}, send_window"
        if node is None or _is_null(node):
            return SendWindow()
        fields = self.mapping(node, where, _WINDOW_KEYS)
        if fields is None:
            return SendWindow()
        default = SendWindow()
        start = self.time_of_day(fields.get("start"), where, "start") or default.start
        end = self.time_of_day(fields.get("end"), where, "end") or default.end
        if start >= end:
            self.problem(fields.get("end") or node, where, "`end` must be later than `start` (a window within one day)")
        weekdays = self.weekdays(fields.get("weekdays"), where)
        return SendWindow(
            start=start,
            end=end,
            weekdays=default.weekdays if weekdays is None else weekdays,
            holidays=self.holidays(fields.get("holidays"), where),
        )

    def segments(self, node: yaml.Node) -> list[tuple[Segment, yaml.Node]]:
        if _is_null(node):
            return []
        segments: list[tuple[Segment, yaml.Node]] = []
        names: set[str] = set()
        assigned: dict[str, str] = {}
        for index, item in enumerate(self.sequence(node, "segments", MAX_SEGMENTS, "segments")):
            segment = self.segment(item, index)
            if segment is None:
                continue
            where = f"segment {quoted(segment.name)}"
            if segment.name in names:
                self.problem(item, where, "a segment of this name is defined above")
                continue
            names.add(segment.name)
            for customer_id in sorted(segment.customers):
                if customer_id in assigned:
                    self.problem(
                        item,
                        where,
                        f"customer {quoted(customer_id)} is already assigned to {quoted(assigned[customer_id])}",
                    )
                assigned.setdefault(customer_id, segment.name)
            segments.append((segment, item))
        return segments

    def segment(self, node: yaml.Node, index: int) -> Segment | None:
        where = _where(node, "name", "segment", index)
        fields = self.mapping(node, where, _SEGMENT_KEYS)
        if fields is None:
            return None
        name = self.name(fields, node, where, "name")
        policy = self.name(fields, node, where, "policy")
        if policy is not None:
            self.references.append((fields["policy"], where, policy))
        match = self.match(fields.get("match"), where)
        customers = [value for value, _ in self.texts(fields.get("customers"), where, "customers") or ()]
        verified = self.boolean(fields.get("require_verified_master_data"), where, "require_verified_master_data")
        if name is None or policy is None:
            return None
        return Segment(
            name=name,
            policy=policy,
            match=match,
            customers=frozenset(customers),
            require_verified_master_data=bool(verified),
        )

    def match(self, node: yaml.Node | None, segment_where: str) -> SegmentMatch:
        where = f"{segment_where}, match"
        if node is None or _is_null(node):
            return SegmentMatch()
        fields = self.mapping(node, where, _MATCH_KEYS)
        if fields is None:
            return SegmentMatch()
        low = self.amount(fields.get("min_open_balance"), where, "min_open_balance")
        high = self.amount(fields.get("max_open_balance"), where, "max_open_balance")
        if low is not None and high is not None and low > high:
            self.problem(fields["max_open_balance"], where, "`max_open_balance` is below `min_open_balance`")
        min_terms = self.integer(fields.get("min_terms_days"), where, "min_terms_days", 0, MAX_DAYS)
        max_terms = self.integer(fields.get("max_terms_days"), where, "max_terms_days", 0, MAX_DAYS)
        if min_terms is not None and max_terms is not None and min_terms > max_terms:
            self.problem(fields["max_terms_days"], where, "`max_terms_days` is below `min_terms_days`")
        return SegmentMatch(
            min_open_balance=low,
            max_open_balance=high,
            min_terms_days=min_terms,
            max_terms_days=max_terms,
            countries=self.codes(fields.get("countries"), where, "countries", _country),
            currencies=self.codes(fields.get("currencies"), where, "currencies", _currency),
            origins=self.codes(fields.get("origins"), where, "origins", _origin),
        )

    def overrides(self, node: yaml.Node) -> tuple[dict[str, tuple[Override, yaml.Node]], ...]:
        if _is_null(node):
            return {}, {}
        fields = self.mapping(node, "overrides", _OVERRIDES_KEYS)
        if fields is None:
            return {}, {}
        return tuple(self.override_table(fields.get(kind), kind) for kind in _OVERRIDES_KEYS)

    def override_table(self, node: yaml.Node | None, kind: str) -> dict[str, tuple[Override, yaml.Node]]:
        if node is None or _is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(
                node, f"overrides, {kind}", f"must map each {kind[:-1]} id to {{policy: NAME}} or {{exclude: true}}"
            )
            return {}
        table: dict[str, tuple[Override, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.text(key_node, f"overrides, {kind}", "id")
            if key is None:
                continue
            where = f"overrides, {kind[:-1]} {quoted(key)}"
            if key in table:
                self.problem(key_node, where, "is listed twice")
                continue
            override = self.override(value_node, where)
            if override is not None:
                table[key] = (override, value_node)
        return table

    def override(self, node: yaml.Node, where: str) -> Override | None:
        fields = self.mapping(node, where, _OVERRIDE_KEYS)
        if fields is None:
            return None
        policy = self.text(fields["policy"], where, "policy") if "policy" in fields else None
        exclude = self.boolean(fields.get("exclude"), where, "exclude")
        if policy is not None:
            self.references.append((fields["policy"], where, policy))
        if (policy is None) == (not exclude):
            self.problem(node, where, "give either `policy: NAME` or `exclude: true`")
            return None
        return Override(policy=policy, exclude=bool(exclude))

    # --- containers ---

    def mapping(self, node: yaml.Node, where: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, f"must be a mapping with the keys {', '.join(allowed)}")
            return None
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in allowed:
                shown = quoted(key) if isinstance(key, str) else "a non-text key"
                self.problem(key_node, where, f"unknown key {shown} (expected one of {', '.join(allowed)})")
            elif key in fields:
                self.problem(key_node, where, f"`{key}` is given twice")
            else:
                fields[key] = value_node
        return fields

    def sequence(self, node: yaml.Node, where: str, limit: int, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, where, f"must be a list of {what}")
            return []
        if len(node.value) > limit:
            self.problem(node, where, f"{len(node.value)} {what}; at most {limit} are allowed")
            return []
        return list(node.value)

    # --- scalars ---

    def scalar(self, node: yaml.Node, where: str, key: str) -> str | None:
        """The raw text of a plain value; None (with a problem) for a list, a mapping or a foreign tag."""
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, where, f"`{key}` must be a single value, not a list or a mapping")
            return None
        if node.tag not in _SCALAR_TAGS:
            self.problem(node, where, f"`{key}` has the YAML tag {quoted(node.tag)}, which is not supported")
            return None
        return str(node.value)

    def text(self, node: yaml.Node, where: str, key: str) -> str | None:
        if _is_null(node):
            self.problem(node, where, f"`{key}` is empty")
            return None
        value = self.scalar(node, where, key)
        if value is not None and not value.strip():
            self.problem(node, where, f"`{key}` is empty")
            return None
        return value

    def name(self, fields: dict[str, yaml.Node], parent: yaml.Node, where: str, key: str) -> str | None:
        if key not in fields:
            self.problem(parent, where, f"`{key}` is required")
            return None
        value = self.text(fields[key], where, key)
        if value is not None and not _NAME.fullmatch(value):
            self.problem(
                fields[key], where, f"`{key}` {quoted(value)} must be letters, digits, `_`, `-` or `.` (at most 64)"
            )
            return None
        return value

    def template_name(self, node: yaml.Node | None, where: str) -> str | None:
        if node is None or _is_null(node):
            return None
        value = self.text(node, where, "template")
        if value is not None and not _TEMPLATE_NAME.fullmatch(value):
            self.problem(node, where, f"template {quoted(value)} must be letters, digits, `_` or `-` (at most 64)")
            return None
        return value

    def choice(
        self, fields: dict[str, yaml.Node], parent: yaml.Node, where: str, key: str, options: tuple[str, ...]
    ) -> str | None:
        if key not in fields:
            self.problem(parent, where, f"`{key}` is required (one of {', '.join(options)})")
            return None
        value = self.text(fields[key], where, key)
        if value is not None and value not in options:
            self.problem(fields[key], where, f"{key} {quoted(value)} is not one of {', '.join(options)}")
            return None
        return value

    def integer(self, node: yaml.Node | None, where: str, key: str, low: int, high: int) -> int | None:
        if node is None or _is_null(node):
            return None
        value = self.scalar(node, where, key)
        if value is None:
            return None
        if node.tag != _INT or not _INTEGER.fullmatch(value):
            self.problem(node, where, f"`{key}` must be a whole number, not {quoted(value)}")
            return None
        number = int(value, 10)  # base 10 even when YAML 1.1 would read `014` as octal
        if not low <= number <= high:
            self.problem(node, where, f"`{key}` must be between {low} and {high}, not {number}")
            return None
        return number

    def days(
        self, fields: dict[str, yaml.Node], key: str, where: str, default: int, low: int, high: int = MAX_DAYS
    ) -> int:
        value = self.integer(fields.get(key), where, key, low, high)
        return default if value is None else value

    def boolean(self, node: yaml.Node | None, where: str, key: str) -> bool | None:
        if node is None or _is_null(node):
            return None
        value = self.scalar(node, where, key)
        if value is None:
            return None
        if node.tag == _BOOL and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        self.problem(node, where, f"`{key}` must be true or false, not {quoted(value)}")
        return None

    def amount(self, node: yaml.Node | None, where: str, key: str) -> Decimal | None:
        """An amount in the currency's major units, exact: `1000`, `1000.50` and `"1,000.50"` all read."""
        if node is None or _is_null(node):
            return None
        value = self.scalar(node, where, key)
        if value is None:
            return None
        if node.tag in (_INT, _FLOAT):
            value = value.replace("_", "")  # YAML's digit grouping: 100_000
        if value.strip().lower().lstrip("+-.") in ("nan", "inf", "infinity"):
            self.problem(node, where, f"`{key}` must be a finite amount, not {quoted(value)}")
            return None
        try:
            amount = parse_amount(value)
        except ValidationError as exc:
            self.problem(node, where, f"`{key}`: {exc.message}")
            return None
        if amount < 0:
            self.problem(node, where, f"`{key}` must not be negative")
            return None
        return amount

    def time_of_day(self, node: yaml.Node | None, where: str, key: str) -> time | None:
        if node is None or _is_null(node):
            return None
        value = self.scalar(node, where, key)  # raw text: unquoted 17:00 is YAML 1.1's number 1020
        if value is None:
            return None
        found = _TIME.fullmatch(value.strip())
        if found is None:
            self.problem(node, where, f'`{key}` must be a time of day such as "09:00", not {quoted(value)}')
            return None
        return time(int(found.group(1)), int(found.group(2)))

    def weekdays(self, node: yaml.Node | None, where: str) -> frozenset[int] | None:
        items = self.texts(node, where, "weekdays")
        if items is None:
            return None
        days: set[int] = set()
        for name, item in items:
            day = _DAY_NAMES.get(name.strip().lower())
            if day is None:
                self.problem(item, where, f"weekday {quoted(name)} is not one of {', '.join(WEEKDAYS)}")
            else:
                days.add(day)
        if node is not None and not days and not any(_DAY_NAMES.get(n.strip().lower()) is None for n, _ in items):
            self.problem(node, where, "`weekdays` is empty: nothing would ever be sent")
        return frozenset(days)

    def holidays(self, node: yaml.Node | None, where: str) -> str | None:
        if node is None or _is_null(node):
            return None
        value = self.scalar(node, where, "holidays")  # raw text: unquoted NO is Norway, not YAML 1.1's false
        if value is None:
            return None
        value = value.strip()
        if value == HOLIDAYS_OF_CUSTOMER:
            return value
        problem = _holidays_problem(value.upper())
        if problem:
            self.problem(node, where, problem)
            return None
        return value.upper()

    def texts(self, node: yaml.Node | None, where: str, key: str) -> list[tuple[str, yaml.Node]] | None:
        """A list of values (each with its node), or one value standing for a list of one."""
        if node is None or _is_null(node):
            return None
        items = [node] if isinstance(node, yaml.ScalarNode) else self.sequence(node, where, 100_000, key)
        values = [(self.text(item, where, key), item) for item in items]
        return [(value, item) for value, item in values if value is not None]

    def codes(
        self, node: yaml.Node | None, where: str, key: str, check: Callable[[str], str | None]
    ) -> frozenset[str] | None:
        items = self.texts(node, where, key)
        if items is None:
            return None
        codes: set[str] = set()
        for value, item in items:
            code = check(value)
            if code is None:
                self.problem(item, where, f"{key}: {quoted(value)} is not {_CODE_WORDS[key]}")
            else:
                codes.add(code)
        return frozenset(codes)


_CODE_WORDS = {
    "countries": "an ISO 3166 country code such as US or DE",
    "currencies": "an ISO 4217 currency code such as USD",
    "origins": "erp or invited",
}


def _where(node: yaml.Node, key: str, kind: str, index: int) -> str:
    """How problems name a policy, step or segment: by its name when it has a usable one, else by position."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key and isinstance(value_node, yaml.ScalarNode) and _NAME.fullmatch(value_node.value):
                return f"{kind} {quoted(value_node.value)}"
    return f"{kind} {index + 1}"


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL


def _country(value: str) -> str | None:
    code = value.strip().upper()
    return code if _COUNTRY.fullmatch(code) else None


def _currency(value: str) -> str | None:
    try:
        return normalise_currency(value)
    except ValidationError:
        return None


def _origin(value: str) -> str | None:
    return value if value in ORIGINS else None


@lru_cache(maxsize=1)
def _holiday_calendars() -> dict[str, frozenset[str]]:
    """Every country the kept `holidays` library has, with its subdivisions (loading them takes most of a
    second, so only a file that names holidays pays, once per process)."""
    import holidays

    return {
        code: frozenset(s.upper() for s in subdivisions)
        for code, subdivisions in holidays.list_supported_countries().items()
    }


def _holidays_problem(value: str) -> str | None:
    country, _, subdivision = value.partition("-")
    calendars = _holiday_calendars()
    if not _COUNTRY.fullmatch(country) or country not in calendars:
        return (
            f"holidays {quoted(value)} is not a country the holidays library knows (such as US, GB or DE), "
            "nor `customer`"
        )
    if subdivision and subdivision not in calendars[country]:
        known = ", ".join(sorted(calendars[country])[:12]) or "none"
        return f"holidays {quoted(value)}: {country} has no subdivision {quoted(subdivision)} (it has: {known})"
    return None


# --- storage form ----------------------------------------------------------------------------------------


def policy_file_to_document(policy_file: PolicyFile) -> dict[str, Any]:
    """The applied file as JSON-able data (amounts as decimal strings, times "HH:MM", weekdays by name), for
    the store and for `--json`; `policy_file_from_document` gives back an equal PolicyFile."""
    return {
        "format": DOCUMENT_FORMAT,
        "policies": [_policy_document(p) for p in policy_file.policies.values()],
        "segments": [_segment_document(s) for s in policy_file.segments],
        "overrides": {
            "customers": {k: _override_document(o) for k, o in policy_file.customer_overrides.items()},
            "invoices": {k: _override_document(o) for k, o in policy_file.invoice_overrides.items()},
        },
        "templates": dict(policy_file.templates),
    }


def _policy_document(policy: Policy) -> dict[str, Any]:
    window = policy.send_window
    return {
        "name": policy.name,
        "first_touch_min_age_days": policy.first_touch_min_age_days,
        "min_touches": policy.min_touches,
        "min_gap_days": policy.min_gap_days,
        "tolerance": str(policy.tolerance),
        "promise_grace_days": policy.promise_grace_days,
        "send_window": {
            "start": window.start.isoformat(timespec="minutes"),
            "end": window.end.isoformat(timespec="minutes"),
            "weekdays": [WEEKDAYS[d] for d in sorted(window.weekdays)],
            "holidays": window.holidays,
        },
        "steps": [_step_document(step) for step in policy.steps],
    }


def _step_document(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "anchor": step.anchor,
        "offset_days": step.offset_days,
        "channel": step.channel,
        "template": step.template,
        "final": step.final,
        "min_balance": None if step.min_balance is None else str(step.min_balance),
    }


def _segment_document(segment: Segment) -> dict[str, Any]:
    match = segment.match
    return {
        "name": segment.name,
        "policy": segment.policy,
        "match": {
            "min_open_balance": _decimal_text(match.min_open_balance),
            "max_open_balance": _decimal_text(match.max_open_balance),
            "min_terms_days": match.min_terms_days,
            "max_terms_days": match.max_terms_days,
            "countries": _sorted_or_none(match.countries),
            "currencies": _sorted_or_none(match.currencies),
            "origins": _sorted_or_none(match.origins),
        },
        "customers": sorted(segment.customers),
        "require_verified_master_data": segment.require_verified_master_data,
    }


def _override_document(override: Override) -> dict[str, Any]:
    return {"policy": override.policy, "exclude": override.exclude}


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _sorted_or_none(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def policy_file_from_document(document: dict[str, Any]) -> PolicyFile:
    """The stored document back as the PolicyFile that was applied."""
    if document.get("format") != DOCUMENT_FORMAT:
        raise PolicyFileError(
            f"the stored policy document has format {document.get('format')!r}, not {DOCUMENT_FORMAT}"
        )
    overrides = document.get("overrides", {})
    return PolicyFile(
        policies={p["name"]: _policy_from(p) for p in document["policies"]},
        segments=tuple(_segment_from(s) for s in document["segments"]),
        customer_overrides={k: Override(**o) for k, o in overrides.get("customers", {}).items()},
        invoice_overrides={k: Override(**o) for k, o in overrides.get("invoices", {}).items()},
        templates=dict(document.get("templates", {})),
    )


def _policy_from(doc: dict[str, Any]) -> Policy:
    window = doc["send_window"]
    return Policy(
        name=doc["name"],
        steps=tuple(_step_from(s) for s in doc["steps"]),
        first_touch_min_age_days=doc["first_touch_min_age_days"],
        min_touches=doc["min_touches"],
        min_gap_days=doc["min_gap_days"],
        tolerance=Decimal(doc["tolerance"]),
        send_window=SendWindow(
            start=time.fromisoformat(window["start"]),
            end=time.fromisoformat(window["end"]),
            weekdays=frozenset(WEEKDAYS.index(d) for d in window["weekdays"]),
            holidays=window["holidays"],
        ),
        promise_grace_days=doc["promise_grace_days"],
    )


def _step_from(doc: dict[str, Any]) -> Step:
    return Step(
        id=doc["id"],
        anchor=doc["anchor"],
        offset_days=doc["offset_days"],
        channel=doc["channel"],
        template=doc["template"],
        final=doc["final"],
        min_balance=_decimal_or_none(doc["min_balance"]),
    )


def _segment_from(doc: dict[str, Any]) -> Segment:
    match = doc["match"]
    return Segment(
        name=doc["name"],
        policy=doc["policy"],
        match=SegmentMatch(
            min_open_balance=_decimal_or_none(match["min_open_balance"]),
            max_open_balance=_decimal_or_none(match["max_open_balance"]),
            min_terms_days=match["min_terms_days"],
            max_terms_days=match["max_terms_days"],
            countries=_frozen_or_none(match["countries"]),
            currencies=_frozen_or_none(match["currencies"]),
            origins=_frozen_or_none(match["origins"]),
        ),
        customers=frozenset(doc["customers"]),
        require_verified_master_data=doc["require_verified_master_data"],
    )


def _decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _frozen_or_none(values: list[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


# --- resolution ------------------------------------------------------------------------------------------


def resolve_policy(policy_file: PolicyFile, customer: CustomerState, invoice: InvoiceState | None = None) -> Resolution:
    """The policy `invoice` (or, without one, `customer`'s invoices) follows. First that applies: the file's
    override of the invoice, the invoice's own stored exclusion or policy, the file's override of the
    customer, the customer's segment. The segment is reported whatever chose the policy, since it also says
    whether the customer needs verified master data first."""
    segment = segment_for(policy_file, customer)
    for override, by in _overrides(policy_file, customer, invoice):
        if override.exclude:
            return Resolution(segment, None, by)
        if override.policy is not None:
            return _with_policy(policy_file, segment, override.policy)
    if segment is None:
        return Resolution(None, None, "no_segment")
    return _with_policy(policy_file, segment, segment.policy)


def _overrides(
    policy_file: PolicyFile, customer: CustomerState, invoice: InvoiceState | None
) -> Iterator[tuple[Override, ExcludedBy]]:
    if invoice is not None:
        if (override := policy_file.invoice_overrides.get(invoice.invoice_id)) is not None:
            yield override, "invoice_override"
        yield Override(policy=invoice.policy_override, exclude=invoice.excluded), "invoice_excluded"
    if (override := policy_file.customer_overrides.get(customer.customer_id)) is not None:
        yield override, "customer_override"


def _with_policy(policy_file: PolicyFile, segment: Segment | None, name: str) -> Resolution:
    # A stored invoice override may name a policy a later file dropped: dunning it under another policy
    # could be harsher than whoever set the override meant, so it waits (and the run counts why).
    policy = policy_file.policies.get(name)
    return Resolution(segment, policy, None if policy is not None else "unknown_policy")


def segment_for(policy_file: PolicyFile, customer: CustomerState) -> Segment | None:
    """A segment that lists the customer by hand; else, when the customer carries a segment name (pinned by
    hand, or the ERP's segment column), the segment of that name if the file has it; else the first whose
    match holds."""
    for segment in policy_file.segments:
        if customer.customer_id in segment.customers:
            return segment
    if customer.segment_pinned or customer.segment != "default":
        for segment in policy_file.segments:
            if segment.name == customer.segment:
                return segment
    return next((s for s in policy_file.segments if matches(s.match, customer)), None)


def matches(match: SegmentMatch, customer: CustomerState) -> bool:
    """Every condition the match gives holds for the customer (an empty match holds for everyone)."""
    currency = customer.currency.upper()
    checks = (
        match.min_terms_days is None or customer.terms_days >= match.min_terms_days,
        match.max_terms_days is None or customer.terms_days <= match.max_terms_days,
        match.countries is None or (customer.country or "").upper() in match.countries,
        match.currencies is None or currency in match.currencies,
        match.origins is None or customer.origin in match.origins,
    )
    return all(checks) and _balance_matches(match, customer.open_balance_minor, currency)


def _balance_matches(match: SegmentMatch, balance_minor: int, currency: str) -> bool:
    if match.min_open_balance is None and match.max_open_balance is None:
        return True
    try:
        low = _minor_bound(match.min_open_balance, currency, ROUND_CEILING)
        high = _minor_bound(match.max_open_balance, currency, ROUND_FLOOR)
    except ValidationError:  # a currency the money module does not know: no amount condition can hold
        return False
    return (low is None or balance_minor >= low) and (high is None or balance_minor <= high)


@lru_cache(maxsize=1024)
def _minor_bound(amount: Decimal | None, currency: str, rounding: str) -> int | None:
    """A threshold in minor units of `currency`, rounded inwards when it has more decimals than the currency
    (100.5 JPY as a minimum is 101), so comparing integers says what comparing the amounts would."""
    if amount is None:
        return None
    return int(amount.scaleb(currency_exponent(currency)).to_integral_value(rounding=rounding))
