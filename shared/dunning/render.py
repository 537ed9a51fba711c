"""Reminder messages from Jinja2 templates: the email (subject, HTML, text), the SMS and the letter text.

The built-in templates (shared/dunning/templates/) cover the stages the seeds describe: `pre_due` (a few
days before due), `due_today`, `past_due` (a few days late), `past_due_firm` and `final_notice` (warns of
referral to a collection agency), the SMS forms `past_due_sms` and `reminder_sms`, and the `letter`. The AR
team overrides any of them, or adds stages, with the policy file's templates folder: `overrides` maps a
file name (`past_due.html`, `past_due.txt`, `past_due.subject`, `past_due_sms.sms`, `letter.letter`) to its
Jinja2 source; whatever is not overridden is the built-in file, and an override may `extends`/`include` the
built-in partials (`_base.html`, `_invoices.txt`, ...).

Every template runs in Jinja2's sandbox with StrictUndefined: an AR team's template cannot reach Python
internals, and a misspelt variable fails loudly instead of sending a blank. Customer and invoice text is
data, never markup: HTML output is autoescaped, and every stored string reaches a template with its control
characters (newlines included: no forged lines in a text body, no header injection through a subject)
removed. Amounts are formatted exactly from minor units, one section per currency with its own total:
amounts in different currencies are never added up.

What a template sees (all strings already formatted):
  customer_id, customer_name, seller_name, reply_to (or None), as_of ("2 March 2026"), stage,
  portal_link (or None), attachments (file names), invoice_count, totals (one "4,210.00 USD" per currency),
  totals_text ("4,210.00 USD and 300.00 EUR"), max_days_past_due, first (the first line: the only one when
  invoice_count == 1), lines (all lines) and sections: [{currency, lines, total, invoice_count}], where a
  line is {invoice_id, number, po_number, issue_date, due_date, due_day_month ("2 March"), amount,
  balance, days_past_due, timing ("due in 5 days", "due today", "3 days past due"), step_id}.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from shared.errors import DomainError
from shared.money import format_money

TEMPLATES_DIR = Path(__file__).parent / "templates"
EMAIL_STAGES: tuple[str, ...] = ("pre_due", "due_today", "past_due", "past_due_firm", "final_notice")
GENERIC_SUBJECT = "reminder"
GENERIC_SMS = "reminder_sms"
GENERIC_LETTER = "letter"
# File suffix of each form a template comes in.
KINDS: tuple[str, ...] = ("html", "txt", "subject", "sms", "letter")
# The words of an SMS, the link apart: one 160-character segment. A signed portal link alone is ~300
# characters, so the link is not counted (a 320-character cap including it would leave no room for words).
SMS_MAX_TEXT_CHARS = 160
SUBJECT_MAX_CHARS = 160
# Long names, numbers and many currencies are shortened in SMS bodies so the built-in SMS fits.
SMS_NAME_CHARS = 30
SMS_NUMBER_CHARS = 20
SMS_CURRENCIES = 2

_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\u0085]+")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# Bidirectional overrides and isolates can make a name display as other text ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


class TemplateError(DomainError):
    """A reminder template is unknown, does not compile or fails to render. The message names the template
    file, never the data it was rendering."""

    code = "template_error"


@dataclass(frozen=True)
class MessageLine:
    """One invoice in a message: the step it is there for and how late it is on `as_of` (negative: days
    until it is due)."""

    invoice_id: str
    number: str | None
    issue_date: date
    due_date: date
    currency: str
    amount_minor: int
    balance_minor: int
    days_past_due: int
    step_id: str
    po_number: str | None = None


@dataclass(frozen=True)
class MessageContext:
    """What one customer is told on one channel on one day. `template` is the message's stage (the most
    advanced step's template). For a letter, pass as `portal_link` something a reader can type (the portal's
    address), not a signed link."""

    customer_id: str
    customer_name: str
    seller_name: str
    as_of: date
    template: str
    lines: tuple[MessageLine, ...]
    portal_link: str | None = None
    reply_to: str | None = None
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def render_email(ctx: MessageContext, overrides: Mapping[str, str] | None = None) -> RenderedEmail:
    """The email of a stage: `<template>.subject`, `.html` and `.txt`. A stage the AR team added without a
    subject gets the generic one (`reminder.subject`)."""
    catalog = _catalog(overrides)
    _require_email(catalog, ctx.template)
    variables = template_variables(ctx)
    own_subject = f"{ctx.template}.subject"
    subject_file = own_subject if catalog.has(own_subject) else f"{GENERIC_SUBJECT}.subject"
    subject = _single_line(_render(catalog, subject_file, variables))[:SUBJECT_MAX_CHARS]
    html = _render(catalog, f"{ctx.template}.html", variables)
    text = _tidy_text(_render(catalog, f"{ctx.template}.txt", variables))
    return RenderedEmail(subject=subject, html=html, text=text)


def render_sms(ctx: MessageContext, overrides: Mapping[str, str] | None = None) -> str:
    """The SMS of a stage: `<template>.sms`, or the generic `reminder_sms` when the stage has no SMS form (an
    email stage sent as SMS after a bounce). Refuses a template whose words pass SMS_MAX_TEXT_CHARS."""
    catalog = _catalog(overrides)
    name = _form_or_generic(catalog, ctx.template, "sms", GENERIC_SMS)
    message = _tidy_text(_render(catalog, name, _sms_variables(template_variables(ctx)))).strip()
    words = message.replace(ctx.portal_link, "") if ctx.portal_link else message
    if len(words) > SMS_MAX_TEXT_CHARS:
        raise TemplateError(
            f"template {name} renders {len(words)} characters besides the link; an SMS allows {SMS_MAX_TEXT_CHARS}"
        )
    return message


def render_letter_text(ctx: MessageContext, overrides: Mapping[str, str] | None = None) -> str:
    """The body of a dunning letter: `<template>.letter`, or the generic `letter` when the stage has none."""
    catalog = _catalog(overrides)
    name = _form_or_generic(catalog, ctx.template, "letter", GENERIC_LETTER)
    return _tidy_text(_render(catalog, name, template_variables(ctx)))


def _sms_variables(variables: dict[str, Any]) -> dict[str, Any]:
    short = dict(variables)
    short["customer_name"] = _cut(variables["customer_name"], SMS_NAME_CHARS)
    short["seller_name"] = _cut(variables["seller_name"], SMS_NAME_CHARS)
    short["lines"] = [{**line, "number": _cut(line["number"], SMS_NUMBER_CHARS)} for line in variables["lines"]]
    short["first"] = short["lines"][0] if short["lines"] else None
    totals = variables["totals"]
    if len(totals) > SMS_CURRENCIES:
        short["totals_text"] = f"{', '.join(totals[:SMS_CURRENCIES])} +{len(totals) - SMS_CURRENCIES} more"
    return short


def known_templates(overrides: Mapping[str, str] | None = None) -> dict[str, frozenset[str]]:
    """Each template name (built-in or the AR team's) → the forms it comes in ({"html", "txt", ...}); the
    policy linter checks that a step's template exists for its channel."""
    forms: dict[str, set[str]] = {}
    for file_name in sorted(_catalog(overrides).files):
        stem, _, kind = file_name.rpartition(".")
        if stem and not stem.startswith("_") and kind in KINDS:
            forms.setdefault(stem, set()).add(kind)
    return {name: frozenset(kinds) for name, kinds in sorted(forms.items())}


def validate_templates(overrides: Mapping[str, str]) -> list[str]:
    """What is wrong with an AR team's templates folder, file by file (empty when nothing): an unknown file
    suffix, a syntax error (with its line), an email stage without its HTML or text body."""
    problems = [
        f"{name}: unknown kind of template (use .html, .txt, .subject, .sms or .letter)"
        for name in sorted(overrides)
        if name.rpartition(".")[2] not in KINDS or not name.rpartition(".")[0]
    ]
    env = _catalog(overrides).env
    for name in sorted(overrides):
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(f"{name}, line {exc.lineno}: {exc.message}")
    forms = known_templates(overrides)
    for stem in sorted({name.rpartition(".")[0] for name in overrides} - {GENERIC_SUBJECT}):
        kinds = forms.get(stem, frozenset())
        if {"html", "txt", "subject"} & kinds and not {"html", "txt"} <= kinds:
            missing = "html" if "html" not in kinds else "txt"
            problems.append(f"{stem}.{missing}: an email needs both an HTML and a text body")
    return problems


def template_variables(ctx: MessageContext) -> dict[str, Any]:
    """The variables every template sees (module docstring): stored text cleaned, amounts formatted."""
    lines = sorted(ctx.lines, key=lambda line: (line.currency, line.due_date, _display_number(line)))
    rows = [_line_variables(line) for line in lines]
    sections = [_section(currency, lines, rows) for currency in dict.fromkeys(line.currency for line in lines)]
    totals = [section["total"] for section in sections]
    return {
        "customer_id": clean_text(ctx.customer_id),
        "customer_name": clean_text(ctx.customer_name),
        "seller_name": clean_text(ctx.seller_name),
        "reply_to": clean_text(ctx.reply_to) if ctx.reply_to else None,
        "as_of": _long_date(ctx.as_of),
        "stage": ctx.template,
        "portal_link": ctx.portal_link,
        "attachments": [clean_text(name) for name in ctx.attachments],
        "invoice_count": len(rows),
        "lines": rows,
        "first": rows[0] if rows else None,
        "sections": sections,
        "totals": totals,
        "totals_text": _and_list(totals),
        "max_days_past_due": max((line.days_past_due for line in lines), default=0),
    }


def clean_text(value: str) -> str:
    """Stored text as it may appear in a message: one line, no control or bidi-override characters."""
    flat = _LINE_BREAKS.sub(" ", value)
    kept = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in flat if ch not in _BIDI_CONTROLS)
    return _SPACES.sub(" ", kept).strip()


def _display_number(line: MessageLine) -> str:
    return clean_text(line.number or "") or clean_text(line.invoice_id)


def _line_variables(line: MessageLine) -> dict[str, Any]:
    return {
        "invoice_id": clean_text(line.invoice_id),
        "number": _display_number(line),
        "po_number": clean_text(line.po_number) if line.po_number else None,
        "issue_date": _long_date(line.issue_date),
        "due_date": _long_date(line.due_date),
        "due_day_month": _day_month(line.due_date),
        "amount": format_money(line.amount_minor, line.currency),
        "balance": format_money(line.balance_minor, line.currency),
        "currency": line.currency.upper(),
        "days_past_due": line.days_past_due,
        "timing": _timing(line.days_past_due),
        "step_id": line.step_id,
    }


def _section(currency: str, lines: list[MessageLine], rows: list[dict[str, Any]]) -> dict[str, Any]:
    members = [row for line, row in zip(lines, rows, strict=True) if line.currency == currency]
    total = sum(line.balance_minor for line in lines if line.currency == currency)
    return {
        "currency": currency.upper(),
        "lines": members,
        "total": format_money(total, currency),
        "invoice_count": len(members),
    }


def _timing(days_past_due: int) -> str:
    if days_past_due == 0:
        return "due today"
    if days_past_due < 0:
        return f"due in {-days_past_due} day{'s' if days_past_due != -1 else ''}"
    return f"{days_past_due} day{'s' if days_past_due != 1 else ''} past due"


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _day_month(day: date) -> str:
    return f"{day.day} {day:%B}"


def _and_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _single_line(text: str) -> str:
    return _SPACES.sub(" ", _LINE_BREAKS.sub(" ", text)).strip()


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"


@dataclass(frozen=True)
class _Catalog:
    env: SandboxedEnvironment
    files: frozenset[str]  # every template file name the loaders know (listing a folder costs a walk)

    def has(self, file_name: str) -> bool:
        return file_name in self.files


@lru_cache(maxsize=16)
def _cached_catalog(overrides: tuple[tuple[str, str], ...]) -> _Catalog:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(TEMPLATES_DIR)]
    if overrides:
        loaders.insert(0, jinja2.DictLoader(dict(overrides)))
    env = SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return _Catalog(env=env, files=frozenset(env.list_templates()))


def _catalog(overrides: Mapping[str, str] | None) -> _Catalog:
    return _cached_catalog(tuple(sorted((overrides or {}).items())))


def _require_email(catalog: _Catalog, name: str) -> None:
    missing = [f"{name}.{kind}" for kind in ("html", "txt") if not catalog.has(f"{name}.{kind}")]
    if len(missing) == 2:
        raise TemplateError(f"unknown email template {name!r} (no {name}.html or {name}.txt)")
    if missing:
        raise TemplateError(f"email template {name!r} has no {missing[0]}")


def _form_or_generic(catalog: _Catalog, name: str, kind: str, generic: str) -> str:
    """`<name>.<kind>`; the generic form when `name` is a known template of another kind; an error when no
    template of that name exists at all (a typo in a policy must not send the generic text)."""
    if catalog.has(f"{name}.{kind}"):
        return f"{name}.{kind}"
    if any(catalog.has(f"{name}.{other}") for other in KINDS):
        return f"{generic}.{kind}"
    raise TemplateError(f"unknown template {name!r} (no {name}.{kind})")


def _render(catalog: _Catalog, file_name: str, variables: dict[str, Any]) -> str:
    try:
        return catalog.env.get_template(file_name).render(variables)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.name or file_name}, line {exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template {file_name} needs {exc.name}, which does not exist") from exc
    except jinja2.TemplateError as exc:  # undefined variables, sandbox refusals: about the template, not data
        raise TemplateError(f"template {file_name} failed: {exc.message or type(exc).__name__}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:  # their text may quote data
        raise TemplateError(f"template {file_name} failed: {type(exc).__name__}") from exc
