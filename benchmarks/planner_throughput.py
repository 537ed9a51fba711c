"""The pure dunning planner's throughput: `plan_invoice` over a million generated invoices, in invoices per
second and as a ratio to a baseline measured in the same run.

Why: the planner decides every due invoice of every run and every day the simulator replays; it must stay far
from being what a run waits for. The machine is shared and noisy, so besides the rate the figure to watch is
`planner_cost_ratio`: the planner's time per invoice ÷ the time to parse one ISO date and build a small dict
per invoice (what merely reading an invoice costs), both measured in the same passes.

Setup (not timed): `planner_invoices` InvoiceState over a tenth as many CustomerState, held in memory: due
dates from 60 days past to 40 days ahead, the steps whose day has passed mostly done, and a realistic share of
holds (paid, disputed, promised, on hold, do-not-contact, auto-pay); customers on the standard policy, one in
ten on the gentle one (its holidays are the customer's country's), from shared/dunning/standard_policy.yaml.

Measured: `planner_passes` passes over every invoice with `plan_invoice(invoice, customer, policy, AS_OF)`,
each followed by the baseline pass over the same invoices; figures are medians. `planner_touch_share` is the
share of invoices the planner sent a step for, so a planner that decided nothing could not post a fast time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from benchmarks.harness import REPO_ROOT, Figures, median, ratio
from shared.dunning.model import CustomerState, InvoiceState, Policy, PolicyFile
from shared.dunning.planner import plan_invoice
from shared.dunning.policy import parse_policy_file

NAME = "planner_throughput"
DEFAULTS: Mapping[str, float] = {"planner_invoices": 1_000_000, "planner_passes": 3}
QUICK: Mapping[str, float] = {"planner_invoices": 50_000}

AS_OF = date(2026, 3, 2)
INVOICES_PER_CUSTOMER = 10
COUNTRIES = ("US", "US", "US", "CA", "GB", "DE")

Case = tuple[InvoiceState, CustomerState, Policy]


def load_policies() -> PolicyFile:
    return parse_policy_file((REPO_ROOT / "shared" / "dunning" / "standard_policy.yaml").read_text())


def make_customer(rng: random.Random, number: int) -> CustomerState:
    return CustomerState(
        customer_id=f"CUST-{number:06d}",
        country=rng.choice(COUNTRIES),
        ap_email_ok=rng.random() < 0.95,
        has_phone=rng.random() < 0.8,
        do_not_contact=rng.random() < 0.01,
        auto_pay=rng.random() < 0.01,
        onboarding_status="active" if rng.random() < 0.3 else "invited",
    )


def make_invoice(
    rng: random.Random, number: int, customer_id: str, policy: Policy, days: Sequence[date]
) -> InvoiceState:
    """An invoice at a random point of its life: the steps dated before AS_OF done, except now and then the
    latest (a step still to send), with a few holds."""
    due = days[rng.randrange(len(days))]
    amount = rng.randint(5_000, 500_000)
    passed = sorted(
        (s for s in policy.steps if due + timedelta(days=s.offset_days) < AS_OF), key=lambda s: s.offset_days
    )
    done = passed[:-1] if passed and rng.random() < 0.5 else passed
    roll = rng.random()
    return InvoiceState(
        invoice_id=f"INV-{number:07d}",
        customer_id=customer_id,
        issue_date=due - timedelta(days=30),
        due_date=due,
        currency="USD",
        amount_minor=amount,
        balance_minor=0 if roll < 0.05 else amount,
        status="paid" if roll < 0.05 else "open",
        dispute_id="D-1" if 0.05 <= roll < 0.08 else None,
        promise_date=AS_OF + timedelta(days=rng.randint(-10, 10)) if 0.08 <= roll < 0.11 else None,
        hold_until=AS_OF + timedelta(days=rng.randint(1, 20)) if 0.11 <= roll < 0.12 else None,
        touches=len(done),
        steps_done=frozenset(step.id for step in done),
        last_touch_on=due + timedelta(days=done[-1].offset_days) if done else None,
    )


def make_cases(invoices: int, policies: PolicyFile, seed: int = 20260302) -> list[Case]:
    rng = random.Random(seed)
    standard, gentle = policies.policies["standard"], policies.policies["gentle"]
    customers = [make_customer(rng, n) for n in range(max(1, invoices // INVOICES_PER_CUSTOMER))]
    chosen = [gentle if rng.random() < 0.1 else standard for _ in customers]
    days = [AS_OF + timedelta(days=offset) for offset in range(-60, 41)]  # shared date objects: less memory
    cases = []
    for n in range(invoices):
        which = rng.randrange(len(customers))
        customer, policy = customers[which], chosen[which]
        cases.append((make_invoice(rng, n, customer.customer_id, policy, days), customer, policy))
    return cases


def planner_pass(cases: Sequence[Case]) -> tuple[float, int]:
    """Seconds to plan every case, and how many got a step."""
    steps = 0
    started = time.perf_counter()
    for invoice, customer, policy in cases:
        if plan_invoice(invoice, customer, policy, AS_OF).step is not None:
            steps += 1
    return time.perf_counter() - started, steps


def baseline_pass(cases: Sequence[Case], due_texts: Sequence[str]) -> float:
    """Seconds to parse one ISO date and build a small dict per case: reading an invoice, at the least."""
    fields = 0
    started = time.perf_counter()
    for (invoice, _, _), text in zip(cases, due_texts, strict=True):
        row = {"invoice_id": invoice.invoice_id, "due_date": date.fromisoformat(text), "balance": invoice.balance_minor}
        fields += len(row)
    elapsed = time.perf_counter() - started
    if fields != 3 * len(cases):
        raise AssertionError(f"the baseline built {fields} fields for {len(cases)} invoices")
    return elapsed


def timed_passes(passes: int, *steps: Callable[[], Any]) -> list[list[Any]]:
    """Each step's results over `passes` rounds, the steps interleaved so machine noise hits them alike."""
    results: list[list[Any]] = [[] for _ in steps]
    for _ in range(passes):
        for collected, step in zip(results, steps, strict=True):
            collected.append(step())
    return results


def run(params: Mapping[str, float]) -> Figures:
    invoices = int(params["planner_invoices"])
    cases = make_cases(invoices, load_policies())
    due_texts = [invoice.due_date.isoformat() for invoice, _, _ in cases]
    planned, baseline = timed_passes(
        int(params["planner_passes"]), lambda: planner_pass(cases), lambda: baseline_pass(cases, due_texts)
    )
    touched = {steps for _, steps in planned}
    if len(touched) != 1:
        raise AssertionError(f"passes over the same invoices planned different touches: {sorted(touched)}")
    planner_s, baseline_s = median(s for s, _ in planned), median(baseline)
    return {
        "planner_invoices": invoices,
        "planner_invoices_per_s": ratio(invoices, planner_s),
        "planner_baseline_invoices_per_s": ratio(invoices, baseline_s),
        "planner_cost_ratio": ratio(planner_s, baseline_s),
        "planner_touch_share": touched.pop() / invoices,
    }
