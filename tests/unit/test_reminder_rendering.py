"""Reminder emails, SMS and letter text from the built-in and the AR team's templates."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.dunning.render import (
    EMAIL_STAGES,
    SMS_MAX_TEXT_CHARS,
    MessageContext,
    MessageLine,
    TemplateError,
    known_templates,
    render_email,
    render_letter_text,
    render_sms,
    validate_templates,
)

AS_OF = date(2026, 3, 5)
LINK = "https://portal.example.com/?link=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDLTEifQ.c2lnbmF0dXJl"


def line(
    number: str | None = "1042",
    currency: str = "USD",
    balance_minor: int = 421_000,
    due: date = date(2026, 3, 2),
    invoice_id: str | None = None,
) -> MessageLine:
    return MessageLine(
        invoice_id=invoice_id or f"inv-{number}",
        number=number,
        issue_date=due - timedelta(days=30),
        due_date=due,
        currency=currency,
        amount_minor=balance_minor,
        balance_minor=balance_minor,
        days_past_due=(AS_OF - due).days,
        step_id="late_1",
    )


def context(*lines: MessageLine, template: str = "past_due", name: str = "Acme Corp") -> MessageContext:
    return MessageContext(
        customer_id="C-1",
        customer_name=name,
        seller_name="Northwind Supply",
        as_of=AS_OF,
        template=template,
        lines=lines or (line(),),
        portal_link=LINK,
        reply_to="ar@northwind.example",
        attachments=("invoice-1042.pdf", "statement-2026-03-05.pdf"),
    )


def visible_text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


# --- subjects -------------------------------------------------------------------------------------------


def test_a_pre_due_reminder_names_the_invoice_and_its_due_day() -> None:
    ctx = context(line(due=date(2026, 3, 10)), template="pre_due")

    assert render_email(ctx).subject == "Reminder: invoice 1042 is due on 10 March"


def test_a_past_due_subject_counts_the_invoices_and_totals_their_balance() -> None:
    ctx = context(line("1", balance_minor=100_000), line("2", balance_minor=121_000), line("3", balance_minor=200_000))

    assert render_email(ctx).subject == "Past due: 3 invoices, 4,210.00 USD"


def test_the_final_notice_warns_of_referral_to_a_collection_agency() -> None:
    email = render_email(context(template="final_notice"))

    assert email.subject == "Final notice before referral to a collection agency"
    assert "collection agency" in email.text
    assert "collection agency" in visible_text(email.html)


@pytest.mark.parametrize("stage", EMAIL_STAGES)
def test_every_stage_has_a_one_line_subject_and_both_bodies(stage: str) -> None:
    email = render_email(context(template=stage))

    assert email.subject and "\n" not in email.subject
    assert email.html.lstrip().startswith("<!DOCTYPE html>")
    assert email.text.startswith("Dear Acme Corp,")


# --- several invoices, several currencies ---------------------------------------------------------------


def test_currencies_are_listed_in_separate_sections_and_never_added_up() -> None:
    ctx = context(
        line("U1", "USD", 100_050),
        line("U2", "USD", 421_000),
        line("E1", "EUR", 30_000),
        line("J1", "JPY", 125_000),
    )

    email = render_email(ctx)

    shown = visible_text(email.html)
    assert "Total USD (2 invoices): 5,210.50 USD" in email.text
    assert "Total USD (2 invoices) 5,210.50 USD" in shown
    for body in (email.text, shown):
        assert "Total EUR (1 invoice)" in body and "300.00 EUR" in body
        assert "125,000 JPY" in body  # no minor unit: never printed as 1,250.00
        assert "5,510.50" not in body and "5,810.50" not in body  # no sum across currencies
    assert email.subject == "Past due: 4 invoices, 300.00 EUR, 125,000 JPY and 5,210.50 USD"
    sections = re.findall(r"^Invoices in ([A-Z]{3}):", email.text, re.MULTILINE)
    assert sections == ["EUR", "JPY", "USD"]


def test_a_line_without_a_number_shows_its_invoice_id() -> None:
    email = render_email(context(line(number=None, invoice_id="ERP-77")))

    assert "Invoice ERP-77" in email.text


def test_the_text_and_the_html_carry_the_same_facts_and_the_link() -> None:
    lines = (line("1042", "USD", 421_000), line("1043", "EUR", 99_999, due=date(2026, 2, 1)))

    email = render_email(context(*lines))

    shown = visible_text(email.html)
    for fact in ("1042", "1043", "4,210.00 USD", "999.99 EUR", "2 March 2026", "1 February 2026", "32 days past due"):
        assert fact in email.text
        assert fact in shown
    assert LINK in email.text
    assert f'href="{LINK}"' in html.unescape(email.html)
    assert "invoice-1042.pdf" in email.text and "invoice-1042.pdf" in shown


def test_a_message_without_a_link_does_not_mention_one() -> None:
    email = render_email(replace(context(template="past_due_firm"), portal_link=None))

    assert "link" not in email.text.lower()
    assert 'href="http' not in email.html


# --- stored text is data ------------------------------------------------------------------------------


def test_markup_in_a_customer_name_is_escaped_in_html() -> None:
    email = render_email(context(name='<script>alert("x")</script> & Co'))

    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "&amp; Co" in email.html


def test_markup_in_an_invoice_number_is_escaped_in_html() -> None:
    email = render_email(context(line(number='<img src=x onerror="steal()">')))

    assert "<img" not in email.html
    assert "&lt;img src=x onerror=&#34;steal()&#34;&gt;" in email.html


def test_control_characters_cannot_forge_lines_in_a_text_body_or_a_subject() -> None:
    forged = "Acme\r\nBcc: victim@example.com\x1b[2J\u202egnp.exe"

    email = render_email(context(line(number="10\n42"), name=forged))

    assert "\nBcc:" not in email.text
    assert "\x1b" not in email.text and "\u202e" not in email.text
    assert email.text.startswith("Dear Acme Bcc: victim@example.com [2Jgnp.exe,")
    assert "\n" not in email.subject and "10 42" in email.subject


@given(name=st.text(max_size=80), number=st.text(max_size=30))
def test_any_name_renders_without_control_characters_in_text(name: str, number: str) -> None:
    email = render_email(context(line(number=number), name=name))

    for body in (email.subject, email.text, render_letter_text(context(line(number=number), name=name))):
        assert not any(ord(ch) < 32 and ch != "\n" for ch in body)
        assert "\u202e" not in body


# --- SMS -----------------------------------------------------------------------------------------------


def test_an_sms_names_the_customer_the_total_per_currency_and_the_link() -> None:
    sms = render_sms(context(line("1", "USD", 421_000), line("2", "EUR", 30_000), template="past_due_sms"))

    assert sms.startswith("Northwind Supply: Acme Corp, 2 invoices are past due, 300.00 EUR and 4,210.00 USD.")
    assert sms.rstrip().endswith(LINK)


def test_an_email_stage_sent_as_sms_uses_the_generic_sms() -> None:
    sms = render_sms(context(template="past_due_firm"))

    assert "reminder for Acme Corp" in sms
    assert LINK in sms


amounts = st.integers(min_value=0, max_value=10**11)
currencies = st.sampled_from(["USD", "EUR", "JPY", "BHD", "GBP", "CHF"])


@given(
    name=st.text(max_size=300),
    seller=st.text(min_size=1, max_size=300),
    entries=st.lists(st.tuples(st.text(max_size=80), currencies, amounts), min_size=1, max_size=12),
    template=st.sampled_from(["past_due_sms", "reminder_sms", "pre_due", "final_notice"]),
)
def test_the_built_in_sms_stays_short_whatever_the_names_and_amounts(
    name: str, seller: str, entries: list[tuple[str, str, int]], template: str
) -> None:
    lines = tuple(
        line(number, currency, minor, invoice_id=f"i{i}") for i, (number, currency, minor) in enumerate(entries)
    )
    ctx = replace(context(*lines, template=template, name=name), seller_name=seller)

    sms = render_sms(ctx)

    assert len(sms.replace(LINK, "")) <= SMS_MAX_TEXT_CHARS
    assert LINK in sms


@pytest.mark.parametrize("template", ["past_due_sms", "reminder_sms"])
@pytest.mark.parametrize("count", [1, 2, 3, 6])
def test_the_built_in_sms_fits_with_the_longest_names_numbers_and_amounts(template: str, count: int) -> None:
    currencies = ("USD", "EUR", "GBP", "CHF", "BHD", "JPY")[:count]
    lines = tuple(line("N" * 80, currency, 10**11, date(2020, 1, 1), f"i{i}") for i, currency in enumerate(currencies))
    ctx = replace(context(*lines, template=template, name="W" * 300), seller_name="S" * 300)

    sms = render_sms(ctx)

    assert len(sms.replace(LINK, "")) <= SMS_MAX_TEXT_CHARS
    assert ("+4 more" in sms) == (count == 6)


def test_an_override_sms_that_runs_long_is_refused() -> None:
    overrides = {"past_due_sms.sms": "{{ customer_name }} " + "please pay " * 20 + "{{ portal_link }}"}

    with pytest.raises(TemplateError, match="characters besides the link"):
        render_sms(context(template="past_due_sms"), overrides)


# --- letters -------------------------------------------------------------------------------------------


def test_a_letter_lists_every_invoice_with_totals_per_currency() -> None:
    text = render_letter_text(context(line("1", "USD", 100), line("2", "EUR", 200), template="letter"))

    assert text.startswith("Dear Acme Corp,")
    assert "Total USD (1 invoice): 1.00 USD" in text
    assert "Total EUR (1 invoice): 2.00 EUR" in text


def test_a_final_letter_warns_of_the_agency_and_an_email_stage_falls_back_to_the_generic_letter() -> None:
    final = render_letter_text(context(template="final_notice"))
    generic = render_letter_text(context(template="past_due"))

    assert "collection agency" in final
    assert generic == render_letter_text(context(template="letter"))


# --- the AR team's templates --------------------------------------------------------------------------


def test_an_override_replaces_only_the_file_it_names() -> None:
    overrides = {"past_due.subject": "Overdue at {{ seller_name }}: {{ totals_text }}"}

    email = render_email(context(), overrides)

    assert email.subject == "Overdue at Northwind Supply: 4,210.00 USD"
    assert email.text == render_email(context()).text


def test_an_override_html_is_autoescaped_and_may_extend_the_built_in_layout() -> None:
    overrides = {
        "past_due.html": '{% extends "_base.html" %}{% block intro %}<p>Hi {{ customer_name }}</p>{% endblock %}'
    }

    email = render_email(context(name="<b>Bold</b>"), overrides)

    assert "<p>Hi &lt;b&gt;Bold&lt;/b&gt;</p>" in email.html
    assert "4,210.00 USD" in email.html


def test_a_new_stage_of_the_ar_team_gets_the_generic_subject() -> None:
    overrides = {"gentle.html": "<p>{{ totals_text }}</p>", "gentle.txt": "{{ totals_text }}"}

    email = render_email(context(template="gentle"), overrides)

    assert email.subject == "Payment reminder: 1 invoice, 4,210.00 USD"
    assert email.text == "4,210.00 USD\n"
    assert known_templates(overrides)["gentle"] == frozenset({"html", "txt"})


def test_an_unknown_template_is_a_clear_error_on_every_channel() -> None:
    ctx = context(template="pas_due")

    for render in (render_email, render_sms, render_letter_text):
        with pytest.raises(TemplateError, match="pas_due"):
            render(ctx)


def test_an_email_stage_with_only_one_body_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"gentle\.txt"):
        render_email(context(template="gentle"), {"gentle.html": "<p>hi</p>"})


def test_a_misspelt_variable_fails_instead_of_sending_a_blank() -> None:
    with pytest.raises(TemplateError, match="custmer_name"):
        render_email(context(), {"past_due.txt": "Dear {{ custmer_name }}"})


def test_the_sandbox_keeps_templates_away_from_python_internals() -> None:
    escape = "{{ customer_name.__class__.__mro__[1].__subclasses__() }}"

    with pytest.raises(TemplateError, match="unsafe"):
        render_email(context(), {"past_due.txt": escape})


def test_a_template_error_never_quotes_the_customer_data() -> None:
    secret_name = "Customer 12-3456789"

    with pytest.raises(TemplateError) as raised:
        render_email(context(name=secret_name), {"past_due.txt": "{{ customer_name | int(base=0) + customer_name }}"})

    assert secret_name not in str(raised.value)


def test_validation_lists_syntax_errors_with_their_line_unknown_kinds_and_half_emails() -> None:
    problems = validate_templates(
        {
            "past_due.txt": "Dear {{ customer_name }}\n{% if %}",
            "past_due.pdf": "x",
            "gentle.html": "<p>hi</p>",
            "past_due_firm.subject": "Firm: {{ totals_text }}",
        }
    )

    assert any(problem.startswith("past_due.txt, line 2:") for problem in problems)
    assert any(problem.startswith("past_due.pdf: unknown kind") for problem in problems)
    assert "gentle.txt: an email needs both an HTML and a text body" in problems
    assert not any(problem.startswith("past_due_firm") for problem in problems)
    assert validate_templates({"past_due_firm.subject": "Firm: {{ totals_text }}", "reminder.subject": "Hi"}) == []
