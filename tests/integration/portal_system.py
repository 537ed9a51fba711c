"""A whole local system (`arcollect local` in this process, on a free port) with two customers and their invoices,
for tests that drive the portal over HTTP: signing in from links, each route, and what another customer's token
may reach. Kept apart from conftest so the browser and contract tests can share it explicitly."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arcollect.local.state import LocalState, load_local_state
from arcollect.local.system import LocalOptions, run_local_system
from shared.settings import runtime_settings

TODAY = dt.date(2026, 3, 2)

CUSTOMERS = """customer_id,legal_name,country,ap_email,phone,timezone,currency,terms_days,tin_type,tin
ALPHA,Alpha Widgets Inc,US,ap@alpha.example.com,+12125550100,America/New_York,USD,30,ein,12-3456789
BETA,Beta Parts LLC,US,ap@beta.example.com,+13125550111,America/Chicago,USD,30,,
"""
INVOICES = """invoice_id,customer_id,number,issue_date,due_date,currency,amount,balance,po_number
A-1,ALPHA,1001,2026-01-05,2026-02-04,USD,1200.00,1200.00,PO-1
A-2,ALPHA,1002,2026-01-20,2026-02-19,USD,300.50,300.50,
A-3,ALPHA,1003,2025-12-01,2025-12-31,USD,99.00,0,
B-1,BETA,<img src=x onerror=alert(1)>,2026-01-10,2026-02-09,USD,5000.00,5000.00,
B-2,BETA,2002,2026-02-01,2026-03-03,EUR,700.00,700.00,
"""


class _Quiet:
    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class PortalSystem:
    state: LocalState
    directory: Path

    @property
    def url(self) -> str:
        return self.state.api_url

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + path, method=method, data=data)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read())

    def link(self, customer_id: str, purpose: str = "portal") -> str:
        """A fresh link token, as a reminder email carries it."""
        from shared.portal.access import issue_portal_link
        from shared.portal.service import portal_services

        services = portal_services()
        return issue_portal_link(customer_id, services.clock(), services.signer, self.url, purpose).link_token

    def session(self, customer_id: str) -> str:
        answer = self.call("POST", "/portal/session", {"link_token": self.link(customer_id)})
        assert answer.status == 200, answer
        return str(answer.json()["session_token"])


def _import(kind: str, text: str) -> None:
    from shared.clock import clock_for
    from shared.ledger.importer import build_importer

    importer = build_importer(runtime_settings(), clock_for(TODAY))
    report = importer.import_file(kind, text.encode(), source=f"{kind}.csv")  # type: ignore[arg-type]
    assert not report.rejected, report.rejected


def start_portal_system(directory: Path) -> tuple[PortalSystem, Callable[[], None]]:
    saved_environment = dict(os.environ)
    stop = threading.Event()
    options = LocalOptions(port=0, state_dir=directory, today=TODAY)
    thread = threading.Thread(target=run_local_system, args=(options, _Quiet(), stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while (state := load_local_state(directory)) is None:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the local system did not start")
        time.sleep(0.2)
    for kind, text in (("customers", CUSTOMERS), ("invoices", INVOICES)):
        _import(kind, text)

    def finish() -> None:
        stop.set()
        thread.join(60)
        os.environ.clear()
        os.environ.update(saved_environment)
        runtime_settings.cache_clear()

    return PortalSystem(state, directory), finish


def portal_system_fixture(tmp_path_factory: Any) -> Iterator[PortalSystem]:
    system, finish = start_portal_system(tmp_path_factory.mktemp("portal"))
    try:
        yield system
    finally:
        finish()
