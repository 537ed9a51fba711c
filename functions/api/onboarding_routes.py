"""`GET /onboarding/verify?token=…`: the link in the verification email. It confirms the AP address, lets the
waiting onboarding execution go on (SendTaskSuccess) and answers a plain page a person reads — never JSON, never
the token again, nothing from the request echoed into markup."""

from __future__ import annotations

import html
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router

from shared.onboarding.service import onboarding_services
from shared.onboarding.workflow import confirm_email

logger = Logger(service="api", child=True)
router = Router()

PAGES = {
    "confirmed": (
        HTTPStatus.OK,
        "Address confirmed",
        "Thank you: this address now receives your invoices, statements and reminders. You can close this page.",
    ),
    "already_confirmed": (
        HTTPStatus.OK,
        "Already confirmed",
        "This address was confirmed already. You can close this page.",
    ),
    "expired": (
        HTTPStatus.GONE,
        "This link has expired",
        "Sign in to the customer portal and save your details again: a new confirmation email will be sent.",
    ),
    "replaced": (
        HTTPStatus.CONFLICT,
        "This address was replaced",
        "Your account has a newer AP email address "
        "since this email was sent; the confirmation sent to the new address is the one that counts.",
    ),
    "unavailable": (
        HTTPStatus.SERVICE_UNAVAILABLE,
        "Please try again",
        "We could not finish confirming your address just now. Open the link again in a few minutes.",
    ),
    "invalid": (
        HTTPStatus.NOT_FOUND,
        "This link is not valid",
        "Check that the whole link was opened (some email "
        "programs break long links across lines), or ask for a new one from the customer portal.",
    ),
}
HTML = "text/html; charset=utf-8"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def page(title: str, text: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>body{{font:1.1rem/1.5 system-ui,sans-serif;max-width:36rem;"
        f"margin:3rem auto;padding:0 1rem;color:#1a1a1a}}</style></head><body><main><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p></main></body></html>"
    )


@router.get(
    "/onboarding/verify",
    summary="Confirm an AP email address (the link in the verification email); answers an HTML page",
    responses={
        int(status): {"description": title, "content": {"text/html": {"schema": {"type": "string"}}}}
        for status, title, _ in PAGES.values()
    },
)
def verify(token: Annotated[str, Query(max_length=512, description="The token from the email")] = "") -> Response[str]:
    services = onboarding_services()
    try:
        click = confirm_email(token, services.clock(), services.executions, services.click_wait_s)
    except Exception:
        # A person reads this answer: a page, never the JSON envelope. Opening the link again finishes the work.
        logger.exception("a verification link could not be handled")
        status, title, text = PAGES["unavailable"]
        return Response(status_code=status, content_type=HTML, body=page(title, text), headers=PAGE_HEADERS)
    logger.info("verification link opened", extra={"outcome": click.outcome})
    status, title, text = PAGES[click.outcome]
    return Response(status_code=status, content_type=HTML, body=page(title, text), headers=PAGE_HEADERS)
