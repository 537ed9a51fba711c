"""A browser tab on the portal page, and the system behind it: Debian's chromium as Playwright drives it, what
the page logged and sent, a screenshot of every step under `.artifacts/screenshots/`, sign-in links made as
support makes them, and a small ledger with the cases the page must handle (markup in stored text, more
invoices than one page, another customer's invoice)."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Dialog, Error, Page, Request

from shared.ledger.formats import RecordKind

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / ".artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TODAY = dt.date(2026, 3, 2)
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_PO = "<script>alert(2)</script>"

CUSTOMER = "C-ACME"
MANY_INVOICES = "C-MANY"
OTHER_CUSTOMER = "C-OTHER"
MANY = 55  # more than one page of the page's 50

CUSTOMERS_CSV = (
    "customer_id,legal_name,tin_type,tin,country,ap_email,currency,terms_days\n"
    f"{CUSTOMER},Acme Supplies Inc,ein,04-1234567,US,ap@acme.example,USD,30\n"
    f"{MANY_INVOICES},Many Parts LLC,,,US,ap@many.example,USD,30\n"
    f"{OTHER_CUSTOMER},Other Co,,,US,ap@other.example,USD,30\n"
)


def _invoice(invoice_id: str, customer: str, number: str, due: dt.date, amount: str, balance: str, po: str = "") -> str:
    issue = due - dt.timedelta(days=30)
    return f"{invoice_id},{customer},{number},{issue},{due},USD,{amount},{balance},{po}\n"


def invoices_csv() -> str:
    """The invoices, each test its own (the system lives for the whole module)."""
    rows = [
        _invoice("I-OLD", CUSTOMER, "A-1001", TODAY - dt.timedelta(days=45), "1250.00", "1250.00", "PO-77"),
        _invoice("I-HOSTILE", CUSTOMER, HOSTILE, TODAY - dt.timedelta(days=10), "300.00", "300.00", HOSTILE_PO),
        _invoice("I-PAID", CUSTOMER, "A-0900", TODAY - dt.timedelta(days=60), "80.00", "0.00"),
        _invoice("I-SCENARIO", CUSTOMER, "A-2001", TODAY - dt.timedelta(days=5), "400.00", "400.00"),
        _invoice("I-KEYBOARD", CUSTOMER, "A-2002", TODAY - dt.timedelta(days=3), "150.00", "150.00"),
        _invoice("I-ERRORS", CUSTOMER, "A-2003", TODAY + dt.timedelta(days=10), "90.00", "90.00"),
        _invoice("I-NOTE", CUSTOMER, "A-2004", TODAY + dt.timedelta(days=20), "60.00", "60.00"),
        _invoice("I-PROMISE", CUSTOMER, "A-2005", TODAY + dt.timedelta(days=25), "75.00", "75.00"),
        _invoice("I-A11Y", CUSTOMER, "A-2006", TODAY - dt.timedelta(days=1), "55.00", "55.00"),
        _invoice("I-THEIRS", OTHER_CUSTOMER, "O-1", TODAY - dt.timedelta(days=5), "999.00", "999.00"),
    ]
    rows += [
        _invoice(f"I-M{n:03d}", MANY_INVOICES, f"M-{n:03d}", TODAY + dt.timedelta(days=n % 20), "10.00", "10.00")
        for n in range(MANY)
    ]
    return "invoice_id,customer_id,number,issue_date,due_date,currency,amount,balance,po_number\n" + "".join(rows)


@dataclass
class PortalSystem:
    """The running local system, as the tests reach it besides the page."""

    url: str

    def link(self, customer_id: str = CUSTOMER) -> str:
        """A sign-in link, as `arcollect portal-link` makes it for support."""
        from shared.portal.access import issue_portal_link
        from shared.portal.service import portal_services

        services = portal_services()
        return issue_portal_link(customer_id, services.clock(), services.signer, self.url).url

    def api(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        """Call the API as the page does (status, decoded JSON or None)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def fetch(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers.items()), response.read()


def import_ledger() -> None:
    """The ledger above into the running system, as `arcollect import` would put it."""
    from shared.clock import clock_for
    from shared.ledger.importer import build_importer
    from shared.settings import runtime_settings

    importer = build_importer(runtime_settings(), clock_for(TODAY))
    files: tuple[tuple[RecordKind, str], ...] = (("customers", CUSTOMERS_CSV), ("invoices", invoices_csv()))
    for kind, text in files:
        report = importer.import_file(kind, text.encode(), source=f"portal-page-{kind}.csv")
        assert report.rejected == 0, report.problems


@dataclass
class PageWatch:
    """What the page said on the console and what it sent, for the checks no screen shows."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, url, body

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":  # a CSP violation is reported here too
            self.errors.append(message.text)

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error.message}")

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_request(self, request: Request) -> None:
        self.requests.append((request.method, request.url, request.post_data))


@dataclass
class Portal:
    """A browser tab on the portal page."""

    page: Page
    system: PortalSystem
    watch: PageWatch
    name: str
    shots: int = 0

    def open_link(self, customer_id: str = CUSTOMER) -> None:
        self.page.goto(self.system.link(customer_id))
        self.page.locator("#view-invoices").wait_for(state="visible")
        self.page.locator("#invoice-rows tr").first.wait_for()

    def screenshot(self, step: str) -> Path:
        self.shots += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{self.shots:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def session_token(self) -> str | None:
        token: str | None = self.page.evaluate(
            "() => (JSON.parse(sessionStorage.getItem('arcollect.portal.session') || 'null') || {}).token || null"
        )
        return token

    def open_invoice(self, number: str) -> None:
        self.page.get_by_role("link", name=number, exact=True).click()
        self.page.locator("#view-invoice").wait_for(state="visible")
        self.page.get_by_role("heading", level=2, name=f"Invoice {number}").wait_for()


def screenshot_name(test_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)[:90]


def open_tab(browser: Browser, system: PortalSystem, name: str, *, width: int, height: int) -> Iterator[Portal]:
    """A fresh tab (its own sessionStorage), watched; a last screenshot whatever the test did."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="en-US", timezone_id="UTC", accept_downloads=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = PageWatch()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    page.on("dialog", watch.on_dialog)
    page.on("request", watch.on_request)
    portal = Portal(page=page, system=system, watch=watch, name=name)
    for stale in SCREENSHOTS.glob(f"{portal.name}-[0-9][0-9]-*.png"):  # an earlier run's, which may have had more steps
        stale.unlink()
    try:
        yield portal
    finally:
        try:
            portal.screenshot("end")
        finally:
            context.close()
