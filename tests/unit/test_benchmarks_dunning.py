"""The dunning benchmarks' generated inputs mean what their figures say: a ledger invoice "due on AS_OF" is one the
planner sends its step for that day, and the planner benchmark's invoices get some steps and some holds."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from benchmarks import dunning_run, planner_throughput
from benchmarks.capacity import Prices, Usage
from shared.data.tables import ContactMap, CustomerRecord
from shared.dunning.planner import plan_invoice
from shared.dunning.state import customer_state, invoice_state

_, POLICY_FILE = dunning_run.standard_policy()
STANDARD = POLICY_FILE.policies["standard"]
STEPS = tuple(sorted(STANDARD.steps, key=lambda step: step.offset_days))


def _customer(number: int) -> CustomerRecord:
    now = datetime.now(UTC)
    return CustomerRecord(
        dunning_run.customer_id(number),
        ap_email="ap@example.com",
        contacts=[ContactMap(contact_id="ap", role="ap", email="ap@example.com", phone="+12125550100")],
        timezone=dunning_run.TIMEZONES[number % len(dunning_run.TIMEZONES)],
        country="US",
        origin="erp",
        created_at=now,
        updated_at=now,
    )


@pytest.mark.parametrize("position", range(len(STEPS)))
def test_a_ledger_invoice_due_at_a_step_gets_that_step_on_the_run_day(position: int) -> None:
    # Given an invoice the benchmark writes as due on AS_OF at this step of the standard policy
    spec = dunning_run.InvoiceSpec("INV-0000001", customer=3, amount_minor=50_000, due_step=position)
    record = dunning_run.invoice_record(spec, STEPS, STANDARD.send_window, random.Random(1), datetime.now(UTC))
    # When the planner decides it on AS_OF for its customer
    decision = plan_invoice(invoice_state(record), customer_state(_customer(3)), STANDARD, dunning_run.AS_OF)
    # Then that step goes out, and the index said so
    assert decision.step is not None and decision.step.id == STEPS[position].id
    assert record.next_action_date is not None and record.next_action_date[:10] == dunning_run.AS_OF.isoformat()


def test_the_ledger_has_the_asked_share_due_and_paid_invoices_outside_the_index() -> None:
    shape = dunning_run.LedgerShape(open_invoices=2_000, customers=100, paid_invoices=300, due_fraction=0.01)
    specs = dunning_run.invoice_specs(shape, len(STEPS), random.Random(7))
    assert sum(1 for s in specs if s.due_step is not None) == 20
    assert sum(1 for s in specs if s.paid) == 300 and not any(s.paid and s.due_step is not None for s in specs)
    assert {s.customer for s in specs} <= set(range(100))
    rng = random.Random(8)
    paid = next(s for s in specs if s.paid)
    record = dunning_run.invoice_record(paid, STEPS, STANDARD.send_window, rng, datetime.now(UTC))
    assert record.next_action_shard is None and record.status == "paid" and record.balance_minor == 0
    later = next(s for s in specs if not s.paid and s.due_step is None)
    record = dunning_run.invoice_record(later, STEPS, STANDARD.send_window, rng, datetime.now(UTC))
    assert record.next_action_date is not None and record.next_action_date > f"{dunning_run.AS_OF.isoformat()}T23:59Z"


def test_planner_cases_mix_touches_and_holds() -> None:
    cases = planner_throughput.make_cases(2_000, POLICY_FILE, seed=3)
    assert len(cases) == 2_000
    reasons = Counter(
        plan_invoice(invoice, customer, policy, planner_throughput.AS_OF).hold_reason or "step"
        for invoice, customer, policy in cases
    )
    assert reasons["step"] > 100
    assert {"paid", "disputed", "promised", "not_due"} <= set(reasons)


def test_run_figures_divide_by_touches_and_keep_ses_apart() -> None:
    usage = Usage()
    usage.items_read.update({"invoices/next_action_index": 10, "invoices/customer_invoices_index": 40})
    usage.read_units.update({"invoices/next_action_index": 2.0})
    usage.write_units.update({"invoices": 20})
    outcome = dunning_run.RunOutcome(
        wall_s=1.0,
        output={},
        usage={"dunning_plan": usage},
        durations={"dunning_plan": [1.0], "dunning_dispatch": [2.0, 2.0]},
        handler_cpu_s=2.5,
        parent_transitions=4,
        map_items=2,
        emails_at_ses=5,
        counts={"touched": 10, "sent": {"email": 5}},
    )
    assert outcome.transitions == 6
    figures = dunning_run.read_write_figures(outcome, due=10)
    assert figures["reads_per_due_action"] == 5.0
    assert figures["plan_reads_per_due_invoice"] == 5.0
    assert figures["writes_per_touch"] == 2.0
    costs = dunning_run.cost_figures(outcome, Prices(state_transition=1.0, email=1.0))
    assert costs["state_transitions_per_1000_touches"] == 600
    assert costs["ses_fees_per_1000_touches"] == 500
    assert costs["lambda_wall_s_per_touch"] == 0.5 and costs["lambda_handler_cpu_s_per_touch"] == 0.25
    assert costs["cost_per_1000_touches"] == pytest.approx(
        costs["cost_per_1000_touches.dynamodb"]
        + costs["cost_per_1000_touches.lambda"]
        + costs["cost_per_1000_touches.step_functions"]
    )
