"""Which policy an invoice follows: the file's invoice override, then the invoice's own stored exclusion or
policy, then the file's customer override, then the customer's segment (by hand, by name, by rules)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.dunning.model import CustomerState, InvoiceState, Policy, PolicyFile, Segment, SegmentMatch
from shared.dunning.policy import matches, parse_policy_file, resolve_policy, segment_for
from tests.unit.test_policy_file import policy_files

FILE = parse_policy_file(
    """\
policies:
  - name: standard
  - name: gentle
  - name: strict
segments:
  - {name: strategic, policy: gentle, match: {min_open_balance: 100000}, customers: [C-HAND]}
  - {name: canada, policy: strict, match: {countries: CA, max_terms_days: 30}}
  - {name: vip, policy: gentle, match: {currencies: [EUR]}}
  - {name: default, policy: standard}
overrides:
  customers:
    C-OFF: {exclude: true}
    C-GENTLE: {policy: gentle}
  invoices:
    I-OFF: {exclude: true}
    I-STRICT: {policy: strict}
"""
)


def customer(customer_id: str = "C1", **fields: object) -> CustomerState:
    return CustomerState(customer_id=customer_id, **fields)  # type: ignore[arg-type]


def invoice(invoice_id: str = "I1", customer_id: str = "C1", **fields: object) -> InvoiceState:
    base: dict[str, object] = {
        "issue_date": date(2026, 1, 1),
        "due_date": date(2026, 1, 31),
        "currency": "USD",
        "amount_minor": 10_000,
        "balance_minor": 10_000,
    }
    return InvoiceState(invoice_id=invoice_id, customer_id=customer_id, **{**base, **fields})  # type: ignore[arg-type]


def policy_name(resolution: object) -> str | None:
    policy = getattr(resolution, "policy", None)
    return None if policy is None else policy.name


# --- segments --------------------------------------------------------------------------------------------


def test_a_customer_takes_the_first_segment_whose_rules_hold() -> None:
    assert segment_for(FILE, customer()).name == "default"  # type: ignore[union-attr]
    assert segment_for(FILE, customer(country="CA", terms_days=30)).name == "canada"  # type: ignore[union-attr]
    assert segment_for(FILE, customer(country="CA", terms_days=45)).name == "default"  # type: ignore[union-attr]
    big_canadian = customer(country="CA", open_balance_minor=100_000_00)
    assert segment_for(FILE, big_canadian).name == "strategic"  # type: ignore[union-attr]


def test_the_open_balance_threshold_is_inclusive_and_exact_to_the_cent() -> None:
    assert policy_name(resolve_policy(FILE, customer(open_balance_minor=100_000_00))) == "gentle"
    assert policy_name(resolve_policy(FILE, customer(open_balance_minor=100_000_00 - 1))) == "standard"


def test_balance_thresholds_compare_in_the_customers_own_currency() -> None:
    # 100000 JPY has no minor unit: 100,000 yen is 100000 minor units, not 10,000,000.
    assert segment_for(FILE, customer(currency="JPY", open_balance_minor=100_000)).name == "strategic"  # type: ignore[union-attr]
    assert segment_for(FILE, customer(currency="JPY", open_balance_minor=99_999)).name == "default"  # type: ignore[union-attr]


def test_a_threshold_finer_than_the_currency_rounds_inwards() -> None:
    match = SegmentMatch(min_open_balance=Decimal("100.5"))
    assert not matches(match, customer(currency="JPY", open_balance_minor=100))
    assert matches(match, customer(currency="JPY", open_balance_minor=101))


def test_a_customer_assigned_by_hand_is_in_that_segment_whatever_the_rules() -> None:
    assert segment_for(FILE, customer("C-HAND", country="CA", terms_days=10)).name == "strategic"  # type: ignore[union-attr]


def test_the_erp_segment_column_names_the_segment_when_the_file_has_it() -> None:
    assert segment_for(FILE, customer(segment="vip")).name == "vip"  # type: ignore[union-attr]
    assert segment_for(FILE, customer(segment="unknown-to-the-file", currency="EUR")).name == "vip"  # type: ignore[union-attr]


def test_a_pinned_segment_wins_over_the_rules() -> None:
    pinned = customer(segment="default", segment_pinned=True, open_balance_minor=500_000_00)
    assert segment_for(FILE, pinned).name == "default"  # type: ignore[union-attr]
    unpinned = customer(segment="default", open_balance_minor=500_000_00)
    assert segment_for(FILE, unpinned).name == "strategic"  # type: ignore[union-attr]


def test_origins_and_terms_bounds_choose_segments() -> None:
    pf = PolicyFile(
        {"p": Policy("p", ())},
        (
            Segment("portal", "p", SegmentMatch(origins=frozenset({"invited"}))),
            Segment("long", "p", SegmentMatch(min_terms_days=60)),
        ),
    )
    assert segment_for(pf, customer(origin="invited")).name == "portal"  # type: ignore[union-attr]
    assert segment_for(pf, customer(terms_days=60)).name == "long"  # type: ignore[union-attr]
    assert segment_for(pf, customer(terms_days=59)) is None


def test_a_customer_no_segment_catches_is_not_dunned_and_says_why() -> None:
    pf = PolicyFile({"p": Policy("p", ())}, (Segment("canada", "p", SegmentMatch(countries=frozenset({"CA"}))),))
    resolution = resolve_policy(pf, customer(country="US"), invoice())
    assert (resolution.segment, resolution.policy, resolution.excluded_by) == (None, None, "no_segment")


# --- overrides -------------------------------------------------------------------------------------------


def test_the_files_invoice_override_comes_first() -> None:
    assert resolve_policy(FILE, customer("C-GENTLE"), invoice("I-OFF", "C-GENTLE")).excluded_by == "invoice_override"
    stored_exclusion = invoice("I-STRICT", excluded=True)
    assert policy_name(resolve_policy(FILE, customer("C-OFF"), stored_exclusion)) == "strict"


def test_an_invoices_stored_exclusion_or_policy_comes_before_the_customer_override() -> None:
    excluded = resolve_policy(FILE, customer("C-GENTLE"), invoice(excluded=True))
    assert (excluded.policy, excluded.excluded_by) == (None, "invoice_excluded")
    assert policy_name(resolve_policy(FILE, customer("C-OFF"), invoice(policy_override="strict"))) == "strict"


def test_the_customer_override_comes_before_the_segment() -> None:
    assert resolve_policy(FILE, customer("C-OFF"), invoice()).excluded_by == "customer_override"
    assert policy_name(resolve_policy(FILE, customer("C-GENTLE"))) == "gentle"


def test_the_segment_is_reported_even_when_an_override_chose_the_policy() -> None:
    resolution = resolve_policy(FILE, customer("C-GENTLE", open_balance_minor=1), invoice("I-STRICT", "C-GENTLE"))
    assert (resolution.segment.name, policy_name(resolution)) == ("default", "strict")  # type: ignore[union-attr]


def test_a_stored_policy_override_naming_a_policy_the_file_dropped_holds_the_invoice() -> None:
    resolution = resolve_policy(FILE, customer(), invoice(policy_override="retired"))
    assert (resolution.policy, resolution.excluded_by) == (None, "unknown_policy")


# --- properties ------------------------------------------------------------------------------------------

customers = st.builds(
    CustomerState,
    customer_id=st.sampled_from(["C-1", "C-2", "C-3", "C-77"]),
    country=st.sampled_from([None, "US", "CA", "DE", "NO"]),
    currency=st.sampled_from(["USD", "EUR", "JPY"]),
    terms_days=st.integers(0, 120),
    open_balance_minor=st.integers(0, 10**10),
    origin=st.sampled_from(["erp", "invited"]),
)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_resolution_follows_the_documented_order(data: st.DataObject) -> None:
    pf = data.draw(policy_files(with_policies=False))
    who = data.draw(customers)
    what = invoice(data.draw(st.sampled_from(["I-1", "C-1", "C-2"])), who.customer_id)
    resolution = resolve_policy(pf, who, what)
    assert resolution.segment == segment_for(pf, who)
    chosen = pf.invoice_overrides.get(what.invoice_id) or pf.customer_overrides.get(who.customer_id)
    if chosen is not None:
        expected = (None, "invoice_override" if what.invoice_id in pf.invoice_overrides else "customer_override")
        if not chosen.exclude:
            expected = (pf.policies[chosen.policy], None)  # type: ignore[index]
    elif resolution.segment is None:
        expected = (None, "no_segment")
    else:
        expected = (pf.policies[resolution.segment.policy], None)
    assert (resolution.policy, resolution.excluded_by) == expected


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_customer_is_in_a_segment_that_lists_it_or_whose_rules_hold_or_in_none_only_if_none_holds(
    data: st.DataObject,
) -> None:
    pf = data.draw(policy_files(with_policies=False))
    who = data.draw(customers)
    segment = segment_for(pf, who)
    if segment is None:
        assert not any(matches(s.match, who) or who.customer_id in s.customers for s in pf.segments)
    else:
        assert who.customer_id in segment.customers or matches(segment.match, who)
        earlier = pf.segments[: pf.segments.index(segment)]
        assert not any(who.customer_id in s.customers for s in pf.segments if s is not segment)
        if who.customer_id not in segment.customers:
            assert not any(matches(s.match, who) for s in earlier)
