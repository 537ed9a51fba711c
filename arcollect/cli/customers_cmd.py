"""`arcollect customers list` and `arcollect customers show ID`. Every stored value is printed through
`plain()`: a customer's name is data, never markup or a terminal sequence."""

from __future__ import annotations

import typer
from rich.table import Table
from rich.text import Text

from arcollect.cli.connection import connect
from arcollect.cli.output import EXIT_USAGE, emit_json, fail, plain, reported_errors, stdout
from shared.accounts.queries import customer_detail, list_customers
from shared.accounts.views import CustomerDetail, MoneyByCurrency
from shared.errors import ValidationError

customers_app = typer.Typer(help="Customers: master data, onboarding state, balances, timeline.", no_args_is_help=True)


def _money(value: MoneyByCurrency) -> str:
    return ", ".join(f"{amount} {currency}" for currency, amount in value.items()) or "-"


def _row(*cells: object) -> list[Text]:
    return [plain("" if cell is None else cell) for cell in cells]


@customers_app.command("list")
def list_command(
    limit: int = typer.Option(100, min=1, max=1000, help="Customers per page."),
    after: str | None = typer.Option(None, "--after", help="Continue from the cursor the previous page printed."),
    stage: str | None = typer.Option(None, "--stage"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every customer with onboarding state, segment and open balance, a page at a time."""
    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        try:
            page = list_customers(limit=limit, after=after)
        except ValidationError as exc:  # the one bad input here is a cursor: bad usage
            fail(exc.message, as_json=as_json, code=EXIT_USAGE)
    if as_json:
        emit_json(page)
        return
    table = Table("customer", "name", "onboarding", "segment", "open", "open balance", "credit")
    for c in page.customers:
        table.add_row(
            *_row(
                c.customer_id,
                c.legal_name,
                c.onboarding_status,
                c.segment,
                c.open_invoices,
                _money(c.open_balance),
                _money(c.credit_balance),
            )
        )
    stdout.print(table)
    if page.next:
        stdout.print(plain(f"more: arcollect customers list --limit {limit} --after {page.next}"))


@customers_app.command("show")
def show_command(
    customer_id: str = typer.Argument(...),
    stage: str | None = typer.Option(None, "--stage"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """One customer: master data (TIN masked), onboarding reasons, invoices, timeline."""
    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        detail = customer_detail(customer_id, target.today)
    if as_json:
        emit_json(detail)
    else:
        _print_detail(detail)


def _print_detail(d: CustomerDetail) -> None:
    heading = Text.assemble(plain(d.customer_id, "bold"), "  ", plain(d.legal_name or ""))
    if d.dba_name:
        heading.append_text(plain(f" (dba {d.dba_name})"))
    stdout.print(heading)
    checked = f" · TIN {d.tin_check.replace('_', ' ')}" if d.tin_check else ""
    invited = f" · {d.invitations_sent} invitation(s) sent" if d.invitations_sent else ""
    stdout.print(plain(f"onboarding: {d.onboarding_status}{checked}{invited}"))
    for reason in d.onboarding_reasons:
        stdout.print(plain(f"  - {reason}"))
    if d.onboarding_due:
        stdout.print(plain(f"  next: {d.onboarding_due}"))
    for event in d.onboarding_history[:10]:
        stdout.print(plain(f"  {event.occurred_at:%Y-%m-%d %H:%M} {event.summary}"))
    tin = f"{d.tin} ({d.tin_type})" if d.tin else "-"
    stdout.print(plain(f"segment {d.segment} · {d.currency} · net {d.terms_days} · {d.timezone} · TIN {tin}"))
    stdout.print(plain(f"AP email: {d.ap_email or '-'}"))
    stdout.print(plain(f"open balance: {_money(d.open_balance)}   credit: {_money(d.credit_balance)}"))
    if d.oldest_due_date:
        stdout.print(plain(f"oldest open invoice due {d.oldest_due_date}"))
    table = Table("invoice", "number", "issued", "due", "amount", "balance", "status", "days late")
    for i in d.invoices:
        table.add_row(
            *_row(
                i.invoice_id,
                i.number,
                i.issue_date,
                i.due_date,
                f"{i.amount} {i.currency}",
                f"{i.balance} {i.currency}",
                i.status,
                i.days_past_due or "",
            )
        )
    stdout.print(table)
    if d.timeline:
        stdout.print(Text("timeline", style="bold"))
        for a in d.timeline:
            stdout.print(plain(f"  {a.occurred_at:%Y-%m-%d}  {a.kind:<10} {a.summary}"))
