"""The portal page's fixtures (tests/e2e/test_portal_page.py registers them under their names): the whole local
system in this process on a free port (the gateway, the authorizer and the API function as `arcollect local`
runs them, the page installed at `/`, the test ledger imported), one chromium for the module and a fresh tab
per test. Plain functions, as tests/integration/portal_system.py has them, so no module holds a fixture
under the name of an argument."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from arcollect.local.portal_page import install_portal_page
from arcollect.local.system import LocalOptions, LocalSystem
from tests.e2e.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TODAY,
    Portal,
    PortalSystem,
    import_ledger,
    open_tab,
    screenshot_name,
)


def portal_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalSystem]:
    """One local system for the module: starting one takes seconds; each test uses its own invoices."""
    from shared.portal.service import portal_services
    from shared.settings import runtime_settings

    saved_environment = dict(os.environ)
    system = LocalSystem(LocalOptions(port=0, today=TODAY, state_dir=tmp_path_factory.mktemp("portal-page")))
    try:
        system.start()
        assert system.gateway is not None
        install_portal_page(system.gateway)
        import_ledger()
        system.mark_ready()
        yield PortalSystem(url=system.api_url)
    finally:
        system.stop()
        os.environ.clear()
        os.environ.update(saved_environment)
        runtime_settings.cache_clear()
        portal_services.cache_clear()


def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def portal(browser: Browser, portal_system: PortalSystem, request: pytest.FixtureRequest) -> Iterator[Portal]:
    """A tab at desktop width."""
    yield from open_tab(browser, portal_system, screenshot_name(request.node.name), width=1280, height=900)


def phone_portal(browser: Browser, portal_system: PortalSystem, request: pytest.FixtureRequest) -> Iterator[Portal]:
    """A tab at 375 px, a phone's width."""
    yield from open_tab(browser, portal_system, screenshot_name(request.node.name), width=375, height=812)
