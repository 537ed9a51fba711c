"""Portal routes (`/portal/...`): sign-in and the signed-in customer's account. Routing only: each route reads
the customer the authorizer established, calls one function of `shared.portal` and returns its model.

The customer id comes only from the authorizer's context (API Gateway's custom authorizer in AWS, the same
authorizer in the local gateway), never from the request, so every route is scoped to that customer. A request
that reaches a customer route without that context is refused, whatever its path.

Ids in paths arrive percent-encoded, as API Gateway's REST proxy passes the path (an ERP's `INV/2026#7` is
`INV%2F2026%237` in the URL), and are decoded here."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared.api.openapi import SESSION, binary, errors, ok
from shared.errors import Unauthorized
from shared.onboarding.service import onboarding_services
from shared.onboarding.workflow import should_validate, start_validation
from shared.portal import access, account, actions
from shared.portal.models import (
    PAGE_DEFAULT,
    PAGE_MAX,
    Accepted,
    Activity,
    DisputeOpened,
    DisputeRequest,
    InvoiceDetail,
    InvoicePage,
    InvoiceStatusFilter,
    LinkRequest,
    NoteRequest,
    PaymentRequest,
    PaymentStarted,
    PaymentView,
    Profile,
    ProfileUpdate,
    PromiseMade,
    PromiseRequest,
    SessionRequest,
    SessionResponse,
    Statement,
    TimelinePage,
)
from shared.portal.profile_update import update_profile
from shared.portal.service import portal_services

logger = Logger(service="api", child=True)
router = Router()

LINK_ACCEPTED = "If that address belongs to a contact of a customer account, a sign-in link is on its way."
Cursor = Annotated[str | None, Query(max_length=1024, description="The `next` value of the previous page")]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]
BODY_ERRORS = (400, 413, 415, 422)


def principal() -> access.Principal:
    context = router.current_event.raw_event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    customer_id, session_id = authorizer.get("customer_id"), authorizer.get("session_id")
    if not customer_id or not session_id:
        raise Unauthorized("Sign in: this route needs a session token (Authorization: Bearer …).")
    return access.Principal(customer_id=str(customer_id), session_id=str(session_id))


def _actor() -> actions.Actor:
    return actions.Actor(customer_id=principal().customer_id)


def _created(model: Any) -> Response[Any]:
    return Response(status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=model)


def _pdf(file_name: str, pdf: bytes) -> Response:
    return Response(
        status_code=200,
        content_type="application/pdf",
        body=pdf,
        headers={"Content-Disposition": f'attachment; filename="{file_name}"', "Cache-Control": "no-store"},
    )


# --- sign-in (public) ------------------------------------------------------------------------------------


@router.post(
    "/portal/session",
    summary="Exchange a sign-in link for a session",
    description="The link token from an email's portal link becomes a session token valid for 60 minutes.",
    responses=ok(SessionResponse) | errors(401, *BODY_ERRORS),
    tags=["sign-in"],
)
def open_session(body: SessionRequest) -> SessionResponse:
    services = portal_services()
    session = access.open_session(body.link_token, services.signer, services.clock())
    return SessionResponse(
        session_token=session.session_token, expires_at=session.expires_at, customer_id=session.customer_id
    )


@router.post(
    "/portal/links",
    summary="Email a fresh sign-in link",
    description="Answers 202 whether or not the address is known; at most 5 requests per address per hour.",
    responses=ok(Accepted, 202, "Accepted") | errors(429, *BODY_ERRORS),
    tags=["sign-in"],
)
def request_link(body: LinkRequest) -> Response[Accepted]:
    services = portal_services()
    access.accept_link_request(body.email, services.clock(), services.link_requests)
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body=Accepted(message=LINK_ACCEPTED),
    )


# --- the signed-in customer ------------------------------------------------------------------------------


@router.post(
    "/portal/logout",
    summary="Sign out",
    responses={204: {"description": "The session is ended"}} | errors(401),
    security=SESSION,
    tags=["sign-in"],
)
def logout() -> Response[None]:
    access.end_session(principal(), portal_services().clock())
    return Response(status_code=HTTPStatus.NO_CONTENT)


@router.get(
    "/portal/me",
    summary="Your master data and onboarding status",
    responses=ok(Profile) | errors(401),
    security=SESSION,
)
def get_me() -> Profile:
    return account.profile(account.customer_of(principal().customer_id))


@router.put(
    "/portal/me",
    summary="Update your master data (validation starts again)",
    responses=ok(Profile) | errors(401, *BODY_ERRORS, 409),
    security=SESSION,
)
def put_me(body: ProfileUpdate) -> Profile:
    services = onboarding_services()
    customer_id = principal().customer_id
    change = update_profile(customer_id, body, services.vault, services.clock())
    if should_validate(change.customer, bool(change.changed)):
        # Saved details (changed, or confirmed as they are) are validated again by the onboarding workflow.
        started = start_validation(customer_id, services.clock(), services.executions, services.click_wait_s)
        return account.profile(started.customer)
    return account.profile(change.customer)


@router.get(
    "/portal/invoices",
    summary="Your invoices, oldest due first",
    responses=ok(InvoicePage) | errors(401),
    security=SESSION,
)
def list_invoices(
    status: Annotated[InvoiceStatusFilter, Query()] = InvoiceStatusFilter.open,
    limit: Limit = PAGE_DEFAULT,
    cursor: Cursor = None,
) -> InvoicePage:
    customer = account.customer_of(principal().customer_id)
    return account.list_invoices(customer, status, limit, cursor, portal_services().clock())


@router.get(
    "/portal/invoices/<invoice_id>",
    summary="One invoice",
    responses=ok(InvoiceDetail) | errors(401, 404),
    security=SESSION,
)
def get_invoice(invoice_id: str) -> InvoiceDetail:
    customer = account.customer_of(principal().customer_id)
    return account.invoice_detail(customer, unquote(invoice_id), portal_services().clock())


@router.get(
    "/portal/invoices/<invoice_id>/pdf",
    summary="A copy of the invoice (PDF)",
    responses=binary("application/pdf", "The invoice copy") | errors(401, 404),
    security=SESSION,
)
def get_invoice_pdf(invoice_id: str):  # no return model: Powertools passes the bytes through untouched
    services = portal_services()
    customer = account.customer_of(principal().customer_id)
    return _pdf(*account.invoice_pdf_of(customer, unquote(invoice_id), services.seller_name, services.clock()))


@router.get(
    "/portal/statement", summary="Your account statement", responses=ok(Statement) | errors(401), security=SESSION
)
def get_statement() -> Statement:
    return account.statement(account.customer_of(principal().customer_id), portal_services().clock())


@router.get(
    "/portal/statement.pdf",
    summary="Your account statement (PDF)",
    responses=binary("application/pdf", "The statement") | errors(401),
    security=SESSION,
)
def get_statement_pdf():  # no return model: Powertools passes the bytes through untouched
    services = portal_services()
    customer = account.customer_of(principal().customer_id)
    return _pdf(*account.statement_pdf_of(customer, services.seller_name, services.clock()))


@router.post(
    "/portal/invoices/<invoice_id>/notes",
    summary="Leave a note on an invoice",
    responses=ok(Activity, 201, "Created") | errors(401, 404, *BODY_ERRORS),
    security=SESSION,
)
def post_note(invoice_id: str, body: NoteRequest) -> Response[Activity]:
    record = actions.add_note(_actor(), unquote(invoice_id), body.text, portal_services().clock())
    return _created(account.activity_view(record))


@router.post(
    "/portal/invoices/<invoice_id>/disputes",
    summary="Dispute an invoice (pauses its reminders)",
    responses=ok(DisputeOpened, 201, "Created") | errors(401, 404, 409, *BODY_ERRORS),
    security=SESSION,
)
def post_dispute(invoice_id: str, body: DisputeRequest) -> Response[DisputeOpened]:
    opened = actions.open_dispute(
        _actor(), unquote(invoice_id), body.reason, body.amount, body.text, portal_services().clock()
    )
    return _created(opened)


@router.post(
    "/portal/invoices/<invoice_id>/promises",
    summary="Promise to pay an invoice by a date (pauses its reminders until then)",
    responses=ok(PromiseMade, 201, "Created") | errors(401, 404, 409, *BODY_ERRORS),
    security=SESSION,
)
def post_promise(invoice_id: str, body: PromiseRequest) -> Response[PromiseMade]:
    made = actions.make_promise(_actor(), unquote(invoice_id), body.date, body.amount, portal_services().clock())
    return _created(made)


@router.post(
    "/portal/payments",
    summary="Pay invoices online (Stripe Checkout)",
    responses=ok(PaymentStarted, 201, "Created") | errors(401, 404, 409, 501, *BODY_ERRORS),
    security=SESSION,
)
def post_payment(body: PaymentRequest) -> Response[PaymentStarted]:
    actions.check_payment_request(_actor(), list(body.invoice_ids))
    raise AssertionError("check_payment_request answers until payments land")  # pragma: no cover


@router.get(
    "/portal/payments/<payment_id>",
    summary="One payment",
    responses=ok(PaymentView) | errors(401, 404),
    security=SESSION,
)
def get_payment(payment_id: str) -> PaymentView:
    return account.payment_of(principal().customer_id, unquote(payment_id))


@router.get(
    "/portal/timeline",
    summary="Your account's timeline, newest first",
    responses=ok(TimelinePage) | errors(401),
    security=SESSION,
)
def get_timeline(limit: Limit = PAGE_DEFAULT, cursor: Cursor = None) -> TimelinePage:
    return account.timeline(principal().customer_id, limit, cursor)
