"""The customer portal page in a real headless Chromium (Debian's, driven by Playwright) against the real local
system: a customer signs in from the link in an email, sees what they owe, downloads a copy, disputes, finds it
on the timeline — by mouse and by keyboard, on a desktop and on a phone, with stored text shown as text and no
serious accessibility violation (axe-core)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from arcollect.local.portal_page import CONTENT_SECURITY_POLICY
from tests.e2e import portal_fixtures as fixtures
from tests.e2e.browser import HOSTILE, HOSTILE_PO, MANY, MANY_INVOICES, Portal, PortalSystem

pytestmark = pytest.mark.e2e

portal_system_fixture = pytest.fixture(scope="module", name="portal_system")(fixtures.portal_system)
playwright_fixture = pytest.fixture(scope="module", name="playwright_driver")(fixtures.playwright_driver)
browser_fixture = pytest.fixture(scope="module", name="browser")(fixtures.browser)
portal_fixture = pytest.fixture(name="portal")(fixtures.portal)
phone_portal_fixture = pytest.fixture(name="phone_portal")(fixtures.phone_portal)

SERIOUS = {"serious", "critical"}


def serious_violations(portal: Portal) -> list[str]:
    results = Axe().run(portal.page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def address_has_no_link(url: str) -> bool:
    """A bool, not an `in` assertion: pytest would print the address, token and all, when it fails."""
    return "link=" not in url


def tab_until(portal: Portal, check: str, limit: int = 80) -> None:
    """Press Tab until `check` (a JS expression on `document.activeElement`, named `e`) holds."""
    for _ in range(limit):
        portal.page.keyboard.press("Tab")
        if portal.page.evaluate(f"() => {{ const e = document.activeElement; return Boolean({check}); }}"):
            return
    raise AssertionError(f"Tab never reached an element where {check}")


def focused(portal: Portal) -> dict[str, Any]:
    described: dict[str, Any] = portal.page.evaluate(
        "() => { const e = document.activeElement;"
        " return {tag: e.tagName, id: e.id, text: e.textContent.trim(), value: e.value ?? null}; }"
    )
    return described


def invoice_row(portal: Portal, number: str) -> Any:
    return portal.page.locator("#invoice-rows tr").filter(has=portal.page.get_by_role("link", name=number, exact=True))


# --- serving the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/", "text/html"), ("/app.js", "text/javascript"), ("/app.css", "text/css")],
)
def test_the_page_and_its_files_are_served_with_the_security_headers(
    portal_system: PortalSystem, path: str, content_type: str
) -> None:
    status, headers, body = portal_system.fetch("GET", path)
    head_status, head_headers, head_body = portal_system.fetch("HEAD", path)

    assert status == 200 and body
    assert headers["Content-Type"].startswith(content_type)
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert (head_status, head_body, head_headers["Content-Type"]) == (200, b"", headers["Content-Type"])


class Markup(HTMLParser):
    """The tags and attributes of a page, to find what a CSP without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_the_page_runs_under_the_same_policy_locally_as_behind_cloudfront() -> None:
    from infra.constructs import portal as deployed

    assert CONTENT_SECURITY_POLICY == deployed.CONTENT_SECURITY_POLICY


def test_the_page_itself_is_never_cached_and_has_no_inline_script_or_style(portal_system: PortalSystem) -> None:
    _, headers, body = portal_system.fetch("GET", "/")
    markup = Markup()
    markup.feed(body.decode())

    assert headers["Cache-Control"] == "no-store"
    assert [attrs.get("src") for tag, attrs in markup.tags if tag == "script"] == ["/app.js"]
    assert [tag for tag, _ in markup.tags if tag == "style"] == []
    assert [
        (tag, name) for tag, attrs in markup.tags for name in attrs if name == "style" or name.startswith("on")
    ] == []
    assert [attrs for tag, attrs in markup.tags if tag == "html"] == [{"lang": "en"}]
    assert len([tag for tag, _ in markup.tags if tag == "h1"]) == 1


def test_every_view_works_under_the_content_security_policy(portal: Portal) -> None:
    # Given the page as CloudFront will serve it: no inline script or style allowed
    portal.open_link()
    page = portal.page

    # When the customer goes through every view
    portal.open_invoice("A-1001")
    for name, view in (("Statement", "statement"), ("Timeline", "timeline"), ("Your details", "profile")):
        page.get_by_role("link", name=name).click()
        page.locator(f"#view-{view}").wait_for(state="visible")

    # Then nothing was blocked or failed, and the policy is in force (an injected inline script does not run)
    assert portal.watch.errors == []
    ran = page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.injected = true';"
        " document.body.append(s); return window.injected === true; }"
    )
    assert ran is False


# --- signing in -----------------------------------------------------------------------------------------


def test_signing_in_from_a_link_takes_the_token_out_of_the_address_and_shows_the_open_invoices(
    portal: Portal,
) -> None:
    # Given a link from an email; When the customer opens it
    portal.open_link()
    page = portal.page
    portal.screenshot("invoices")

    # Then the link's token left the address bar and the history, and the session is in sessionStorage only
    assert address_has_no_link(page.url)
    token = portal.session_token()
    assert token is not None
    assert page.evaluate("() => localStorage.length") == 0
    leaks = [n for n, (_, url, _) in enumerate(portal.watch.requests[1:]) if token in url or "link=" in url]
    assert leaks == []
    # And the open invoices show with their status and days past due, oldest due first
    expect(page.locator("#invoice-caption")).to_have_text("Open invoices")
    row = invoice_row(portal, "A-1001")
    expect(row.locator("td[data-label='Days past due']")).to_have_text("45")
    expect(row.locator("td[data-label='Status']")).to_have_text("Overdue")
    expect(row.locator("td[data-label='Balance']")).to_have_text("$1,250.00")
    expect(invoice_row(portal, "A-0900")).to_have_count(0)  # paid
    expect(page.get_by_role("columnheader", name="Days past due")).to_be_visible()
    assert portal.watch.errors == []
    # And the history holds no entry with the link: back is the blank tab, forward the page without it
    page.go_back()
    assert page.url == "about:blank"
    page.go_forward()
    assert page.url.startswith(portal.system.url) and address_has_no_link(page.url)


def test_every_api_call_carries_the_session_as_a_bearer_token(portal: Portal) -> None:
    seen: list[str | None] = []
    portal.page.on("request", lambda r: seen.append(r.headers.get("authorization")) if "/portal/" in r.url else None)
    portal.open_link()
    portal.page.get_by_role("link", name="Timeline").click()
    portal.page.locator("#view-timeline").wait_for(state="visible")

    token = portal.session_token()
    assert seen[0] is None  # exchanging the link, before there is a session
    bearer = [header == f"Bearer {token}" for header in seen[1:]]
    assert len(bearer) >= 2 and all(bearer)


def test_a_link_that_cannot_be_used_says_so_and_offers_a_new_one(portal: Portal) -> None:
    portal.page.goto(f"{portal.system.url}/?link=not-a-real-token")

    expect(portal.page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(portal.page.locator("#signin-alert")).to_contain_text("This sign-in link cannot be used")
    assert address_has_no_link(portal.page.url) and portal.session_token() is None


def test_asking_for_a_link_shows_the_same_answer_whatever_the_address(portal: Portal) -> None:
    portal.page.goto(portal.system.url)
    answers = []
    for address in ("ap@acme.example", "nobody@unknown.example"):
        portal.page.get_by_label("Email address").fill(address)
        portal.page.get_by_role("button", name="Email me a sign-in link").click()
        answer = portal.page.locator("#link-answer")
        expect(answer).not_to_be_empty()
        answers.append(answer.text_content())
        portal.page.evaluate("() => { document.getElementById('link-answer').textContent = ''; }")

    assert answers[0] == answers[1] and "sign-in link is on its way" in (answers[0] or "")


def test_a_session_that_ended_sends_the_customer_back_to_sign_in_with_a_message(portal: Portal) -> None:
    # Given a signed-in page whose session ends elsewhere (signed out in another tab)
    portal.open_link()
    status, _ = portal.system.api("POST", "/portal/logout", portal.session_token())
    assert status == 204

    # When the customer goes on
    portal.page.get_by_role("link", name="Statement").click()

    # Then the sign-in view says why, and the page forgot the token
    expect(portal.page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(portal.page.locator("#signin-alert")).to_have_text("Your session has ended. Sign in again with a new link.")
    assert portal.session_token() is None
    expect(portal.page.get_by_role("navigation")).to_be_hidden()


def test_signing_out_ends_the_session_for_good(portal: Portal) -> None:
    portal.open_link()
    token = portal.session_token()

    portal.page.get_by_role("button", name="Sign out").click()

    expect(portal.page.locator("#signin-alert")).to_have_text("You are signed out.")
    assert portal.session_token() is None
    assert portal.system.api("GET", "/portal/me", token)[0] == 401


# --- invoices -------------------------------------------------------------------------------------------


def test_the_status_filter_shows_paid_invoices_and_all(portal: Portal) -> None:
    portal.open_link()
    page = portal.page

    page.get_by_label("Show").select_option("paid")
    expect(page.locator("#invoice-caption")).to_have_text("Paid invoices")
    expect(page.locator("#invoice-rows tr")).to_have_count(1)
    expect(invoice_row(portal, "A-0900").locator("td[data-label='Status']")).to_have_text("Paid")

    page.get_by_label("Show").select_option("all")
    expect(page.locator("#invoice-caption")).to_have_text("All invoices")
    expect(invoice_row(portal, "A-0900")).to_have_count(1)
    expect(invoice_row(portal, "A-1001")).to_have_count(1)


def test_more_invoices_come_page_by_page(portal: Portal) -> None:
    portal.open_link(MANY_INVOICES)
    page = portal.page
    rows = page.locator("#invoice-rows tr")
    expect(rows).to_have_count(50)

    page.get_by_role("button", name="Show more invoices").click()

    expect(rows).to_have_count(MANY)
    expect(page.get_by_role("button", name="Show more invoices")).to_be_hidden()
    numbers = [text.strip() for text in page.locator("#invoice-rows th a").all_text_contents()]
    assert len(set(numbers)) == MANY


def test_the_pay_button_says_online_payment_is_not_available_yet(portal: Portal) -> None:
    portal.open_link()
    page = portal.page
    page.get_by_role("checkbox", name="Pay invoice A-1001").check()

    page.get_by_role("button", name="Pay selected invoices").click()

    expect(page.locator("#pay-error")).to_have_text(
        "Online payment is not available yet. Please pay by your usual method for now."
    )
    expect(page.locator("#pay-error")).to_have_attribute("role", "alert")
    payment = [body for method, url, body in portal.watch.requests if url.endswith("/portal/payments")]
    assert [json.loads(body or "{}") for body in payment] == [{"invoice_ids": ["I-OLD"]}]


def test_stored_markup_is_shown_as_text_never_run(portal: Portal) -> None:
    # Given an invoice whose number and PO are markup, as an ERP export could carry
    portal.open_link()
    page = portal.page
    row = invoice_row(portal, HOSTILE)
    expect(row.locator("td[data-label='PO']")).to_have_text(HOSTILE_PO)

    # When the customer opens it and leaves a note that is markup too
    portal.open_invoice(HOSTILE)
    page.get_by_label("Note", exact=True).fill("<b>bold</b> <img src=x onerror=alert(3)>")
    page.get_by_role("button", name="Add the note").click()
    expect(page.locator("#invoice-activities .note")).to_have_text("<b>bold</b> <img src=x onerror=alert(3)>")
    page.get_by_role("link", name="Timeline").click()
    expect(page.locator("#timeline .note").first).to_have_text("<b>bold</b> <img src=x onerror=alert(3)>")
    portal.screenshot("timeline-with-markup")

    # Then it is all text: no element was made from it and nothing ran
    assert page.locator("main img, main script:not([src]), main b").count() == 0
    assert portal.watch.dialogs == []


# --- one invoice ------------------------------------------------------------------------------------------


def test_a_copy_of_the_invoice_and_the_statement_download_as_pdf(portal: Portal) -> None:
    portal.open_link()
    portal.open_invoice("A-1001")

    with portal.page.expect_download() as invoice_download:
        portal.page.get_by_role("button", name="Download the invoice (PDF)").click()
    portal.page.get_by_role("link", name="Statement").click()
    expect(portal.page.locator("#statement-currencies h3")).to_have_text("USD")
    with portal.page.expect_download() as statement_download:
        portal.page.get_by_role("button", name="Download the statement (PDF)").click()

    for download in (invoice_download.value, statement_download.value):
        assert download.suggested_filename.endswith(".pdf")
        assert download.url.startswith("blob:")  # fetched with the token, never a URL with it
        assert download.path().read_bytes()[:4] == b"%PDF"


def test_the_statement_shows_the_open_balance_and_its_ageing(portal: Portal) -> None:
    portal.open_link()
    portal.page.get_by_role("link", name="Statement").click()
    _, statement = portal.system.api("GET", "/portal/statement", portal.session_token())
    usd = statement["currencies"][0]

    section = portal.page.get_by_role("region", name="Statement in USD")
    expect(section.locator("dd").first).to_have_text(f"${float(usd['open_balance']):,.2f}")
    expect(section.get_by_role("table", name="What is open in USD, by days past due")).to_be_visible()
    expect(section.locator("table").nth(1).locator("tbody tr")).to_have_count(len(usd["lines"]))
    portal.screenshot("statement")


def test_a_dispute_opened_on_the_page_shows_on_the_invoice_and_the_timeline(portal: Portal) -> None:
    # Given a signed-in customer on an overdue invoice
    portal.open_link()
    page = portal.page
    portal.open_invoice("A-2001")
    portal.screenshot("invoice")

    # When they dispute part of it
    page.get_by_label("Reason").select_option("damaged_or_defective")
    page.get_by_label("Amount in dispute (optional)").fill("120.50")
    page.get_by_label("What is wrong (optional)").fill("Two of the five crates arrived broken.")
    page.get_by_role("button", name="Open the dispute").click()

    # Then the invoice says it is disputed and its reminders stop
    expect(page.locator("#dispute-state")).to_contain_text("Damaged or defective")
    expect(page.locator("#dispute-state")).to_contain_text("$120.50")
    expect(page.locator("#dispute-form")).to_be_hidden()
    expect(page.locator("#status")).to_contain_text("Your dispute is opened")
    portal.screenshot("disputed")

    # And it is on the timeline
    page.get_by_role("link", name="Timeline").click()
    first = page.locator("#timeline li").first
    expect(first).to_contain_text("A-2001")
    expect(first.locator(".note")).to_have_text("Two of the five crates arrived broken.")
    portal.screenshot("timeline")
    page.get_by_role("link", name="Invoices").click()
    expect(invoice_row(portal, "A-2001").locator("td[data-label='Status']")).to_have_text("Overdue, disputed")
    assert portal.watch.errors == []


def test_an_error_from_the_api_is_shown_next_to_the_form(portal: Portal) -> None:
    portal.open_link()
    page = portal.page
    portal.open_invoice("A-2003")

    page.get_by_label("Amount in dispute (optional)").fill("5000")
    page.get_by_role("button", name="Open the dispute").click()

    alert = page.locator("#dispute-form [role=alert]")
    expect(alert).to_contain_text("more than the balance")
    expect(page.locator("#dispute-form")).to_be_visible()
    page.get_by_label("Amount in dispute (optional)").fill("abc")
    page.get_by_role("button", name="Open the dispute").click()
    expect(alert).to_contain_text("Amount in dispute (optional):")
    expect(page.get_by_label("Amount in dispute (optional)")).to_have_attribute("aria-invalid", "true")
    portal.screenshot("dispute-error")


def test_a_promise_to_pay_is_recorded_and_shown(portal: Portal) -> None:
    portal.open_link()
    page = portal.page
    portal.open_invoice("A-2005")

    page.get_by_label("Pay by").fill("2026-03-20")
    page.get_by_role("button", name="Promise to pay").click()

    expect(page.locator("#promise-state")).to_have_text("You promised to pay the balance by 2026-03-20.")
    expect(page.locator("#invoice-activities li")).to_have_count(1)


def test_a_note_is_added_to_the_invoices_activity(portal: Portal) -> None:
    portal.open_link()
    page = portal.page
    portal.open_invoice("A-2004")
    page.get_by_role("button", name="Add the note").click()
    expect(page.locator("#note-error")).to_have_text("Write the note first.")

    page.get_by_label("Note", exact=True).fill("We pay on the 15th.")
    page.get_by_role("button", name="Add the note").click()

    expect(page.locator("#invoice-activities .note")).to_have_text("We pay on the 15th.")
    expect(page.locator("#note-error")).to_be_empty()


def test_another_customers_invoice_is_not_shown(portal: Portal) -> None:
    portal.open_link()
    portal.page.goto(f"{portal.system.url}/#/invoices/I-THEIRS")

    expect(portal.page.locator("#status")).to_have_text("No such invoice.")
    expect(portal.page.locator("#view-invoices")).to_be_visible()
    expect(portal.page.get_by_text("O-1")).to_have_count(0)


# --- the profile --------------------------------------------------------------------------------------------


def test_the_profile_shows_onboarding_and_sends_the_tin_only_when_a_new_one_is_typed(portal: Portal) -> None:
    portal.open_link()
    page = portal.page
    page.get_by_role("link", name="Your details").click()
    expect(page.get_by_label("Legal name")).to_have_value("Acme Supplies Inc")
    expect(page.locator("#profile-tin-current")).to_have_text("•••••4567")
    expect(page.get_by_label("New tax ID")).to_have_value("")
    expect(page.locator("#onboarding-status")).not_to_be_empty()

    page.get_by_label("Phone").fill("+1 415 555 0100")
    page.get_by_role("button", name="Save your details").click()
    expect(page.locator("#status")).to_have_text("Your details are saved. We will check them again.")
    page.get_by_label("New tax ID").fill("91-1144442")
    page.get_by_role("button", name="Save your details").click()
    expect(page.locator("#profile-tin-current")).to_have_text("•••••4442")

    sent = [json.loads(body or "{}") for method, url, body in portal.watch.requests if method == "PUT"]
    assert sent == [{"phone": "+1 415 555 0100"}, {"tin": "91-1144442"}]
    expect(page.get_by_label("New tax ID")).to_have_value("")
    portal.screenshot("profile")


# --- keyboard and accessibility -----------------------------------------------------------------------


def test_the_dispute_form_can_be_filled_and_sent_with_the_keyboard_only(portal: Portal) -> None:
    portal.open_link()
    page = portal.page

    # The first Tab reaches the skip link, which takes the focus to the content and leaves the view as it is
    page.keyboard.press("Tab")
    assert focused(portal)["text"] == "Skip to content"
    page.keyboard.press("Enter")
    assert focused(portal)["id"] == "main"
    expect(page.locator("#view-invoices")).to_be_visible()
    tab_until(portal, "e.tagName === 'A' && e.textContent === 'A-2002'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2, name="Invoice A-2002")).to_be_focused()

    tab_until(portal, "e.id === 'dispute-reason'")
    page.keyboard.press("ArrowDown")  # wrong amount -> not received
    assert focused(portal)["value"] == "not_received"
    page.keyboard.press("Tab")
    page.keyboard.type("20")
    page.keyboard.press("Tab")
    page.keyboard.type("Only half of it arrived.")
    page.keyboard.press("Tab")
    assert focused(portal)["text"] == "Open the dispute"
    page.keyboard.press("Enter")

    expect(page.locator("#dispute-state")).to_contain_text("Goods or services not received")
    expect(page.get_by_role("heading", level=2, name="Invoice A-2002")).to_be_focused()
    status, detail = portal.system.api("GET", "/portal/invoices/I-KEYBOARD", portal.session_token())
    assert status == 200 and detail["dispute"]["reason"] == "not_received" and detail["dispute"]["amount"] == "20.00"


def test_the_focus_is_visible(portal: Portal) -> None:
    portal.open_link()
    tab_until(portal, "e.tagName === 'A' && e.textContent === 'A-1001'")

    outline = portal.page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")

    assert outline == "solid"


def test_no_serious_accessibility_violation_on_sign_in_invoices_and_an_invoice(portal: Portal) -> None:
    portal.page.goto(portal.system.url)
    portal.page.get_by_role("heading", name="Sign in").wait_for()
    sign_in = serious_violations(portal)
    portal.open_link()
    invoices = serious_violations(portal)
    portal.open_invoice("A-2006")
    invoice = serious_violations(portal)
    portal.page.get_by_role("link", name="Statement").click()
    portal.page.locator("#statement-currencies h3").wait_for()
    statement = serious_violations(portal)

    assert (sign_in, invoices, invoice, statement) == ([], [], [], [])


def test_at_a_phones_width_the_page_is_readable_and_accessible(phone_portal: Portal) -> None:
    portal = phone_portal
    portal.page.goto(portal.system.url)
    portal.page.get_by_role("heading", name="Sign in").wait_for()
    checks = {"sign-in": serious_violations(portal)}
    portal.open_link()
    checks["invoices"] = serious_violations(portal)
    portal.screenshot("invoices-375")
    width = portal.page.evaluate("() => document.documentElement.scrollWidth")
    portal.open_invoice("A-2006")
    checks["invoice"] = serious_violations(portal)
    portal.screenshot("invoice-375")
    invoice_width = portal.page.evaluate("() => document.documentElement.scrollWidth")

    assert checks == {"sign-in": [], "invoices": [], "invoice": []}
    assert (width, invoice_width) == (375, 375)  # nothing wider than the screen: no sideways scrolling
