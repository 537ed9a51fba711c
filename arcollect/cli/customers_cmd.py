"""`arcollect customers list` and `arcollect customers show ID`."""

from __future__ import annotations

import typer
from rich.table import Table

from arcollect.cli.connection import connect
from arcollect.cli.output import emit_json, reported_errors, stdout
from shared.accounts.queries import customer_detail, list_customers
from shared.accounts.views import CustomerDetail, MoneyByCurrency

customers_app = typer.Typer(help="Customers: master data, onboarding state, balances, timeline.", no_args_is_help=True)


def _money(value: MoneyByCurrency) -> str:
    return ", ".join(f"{amount} {currency}" for currency, amount in value.items()) or "-"


@customers_app.command("list")
def list_command(
    limit: int = typer.Option(100, min=1, max=1000, help="Customers per page."),
    after: str | None = typer.Option(None, "--after", help="Continue after this customer id."),
    stage: str | None = typer.Option(None, "--stage"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every customer with onboarding state, segment and open balance."""
    target = connect(stage)
    with reported_errors(as_json, lambda: target.description):
        customers = list_customers(limit=limit, start_after=after)
    if as_json:
        emit_json(customers)
        return
    table = Table("customer", "name", "onboarding", "segment", "open", "open balance", "credit")
    for c in customers:
        table.add_row(
            c.customer_id,
            c.legal_name or "",
            c.onboarding_status,
            c.segment,
            str(c.open_invoices),
            _money(c.open_balance),
            _money(c.credit_balance),
        )
    stdout.print(table)
    if len(customers) == limit:
        stdout.print(f"more: arcollect customers list --after {customers[-1].customer_id}", markup=False)


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
    stdout.print(f"[bold]{d.customer_id}[/bold]  {d.legal_name or ''}" + (f" (dba {d.dba_name})" if d.dba_name else ""))
    stdout.print(f"onboarding: {d.onboarding_status}", markup=False)
    for reason in d.onboarding_reasons:
        stdout.print(f"  - {reason}", markup=False)
    tin = f"{d.tin} ({d.tin_type})" if d.tin else "-"
    stdout.print(f"segment {d.segment} · {d.currency} · net {d.terms_days} · {d.timezone} · TIN {tin}", markup=False)
    stdout.print(f"AP email: {d.ap_email or '-'}", markup=False)
    stdout.print(f"open balance: {_money(d.open_balance)}   credit: {_money(d.credit_balance)}", markup=False)
    table = Table("invoice", "number", "issued", "due", "amount", "balance", "status", "days late")
    for i in d.invoices:
        table.add_row(
            i.invoice_id,
            i.number or "",
            str(i.issue_date),
            str(i.due_date),
            f"{i.amount} {i.currency}",
            f"{i.balance} {i.currency}",
            i.status,
            str(i.days_past_due or ""),
        )
    stdout.print(table)
    if d.timeline:
        stdout.print("[bold]timeline[/bold]")
        for a in d.timeline:
            stdout.print(f"  {a.occurred_at:%Y-%m-%d}  {a.kind:<10} {a.summary}", markup=False)
