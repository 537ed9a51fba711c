"""A synthetic demo ledger for `arcollect local --demo`: ~50 customers and 500 invoices around a given
"today", in the three CSV import formats, and the loader that imports them.

Deterministic: the same seed and today give the same bytes, so demos and tests can name customers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from stdnum.eu import vat as eu_vat
from stdnum.gb import vat as gb_vat
from stdnum.us import ein

from shared.ledger.formats import COLUMNS, RecordKind
from shared.money import currency_exponent

DEMO_SEED = 20261122
DEMO_CUSTOMERS = 50
DEMO_INVOICES = 500


@dataclass(frozen=True)
class _Country:
    code: str
    currency: str
    legal_suffixes: tuple[str, ...]
    domain: str
    timezones: tuple[str, ...]
    weight: int


_COUNTRIES = (
    _Country(
        "US",
        "USD",
        ("Inc.", "LLC", "Corp."),
        "com",
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
        30,
    ),
    _Country("GB", "GBP", ("Ltd",), "co.uk", ("Europe/London",), 7),
    _Country("DE", "EUR", ("GmbH",), "de", ("Europe/Berlin",), 5),
    _Country("NL", "EUR", ("B.V.",), "nl", ("Europe/Amsterdam",), 3),
    _Country("JP", "JPY", ("K.K.",), "co.jp", ("Asia/Tokyo",), 5),
)

_NAME_FIRST = (
    "Brightwater",
    "Cedar Ridge",
    "Blue Harbor",
    "Ironclad",
    "Summit Peak",
    "Pioneer Valley",
    "Redwood",
    "Silver Lake",
    "Granite State",
    "Harborview",
    "Keystone",
    "Lakeshore",
    "Oakmont",
    "Prairie Wind",
    "Riverbend",
    "Stonebridge",
    "Sunrise",
    "Tidewater",
    "Westfield",
    "Copperline",
    "Evergreen",
    "Fairhaven",
    "Highland",
    "Juniper",
    "Larkspur",
    "Meridian",
    "Northstar",
    "Orchard Hill",
    "Pinecrest",
    "Quarry Road",
    "Sagebrush",
    "Timberline",
    "Union Point",
    "Willow Creek",
    "Ashford",
    "Bayside",
    "Clearwater",
    "Driftwood",
    "Eastgate",
    "Foxglove",
    "Goldfield",
    "Hollybrook",
    "Kingsbridge",
    "Lighthouse",
    "Millbrook",
    "Nightingale",
    "Old Mill",
    "Parkside",
    "Redstone",
    "Seabright",
)
_NAME_SECOND = (
    "Supply",
    "Logistics",
    "Manufacturing",
    "Foods",
    "Hardware",
    "Packaging",
    "Electric",
    "Builders",
    "Textiles",
    "Labs",
    "Distribution",
    "Machine Works",
    "Paper",
    "Plastics",
    "Freight",
    "Medical Supply",
    "Print",
    "Furniture",
    "Components",
    "Instruments",
)
_AP_MAILBOXES = ("ap", "accounts.payable", "invoices", "payables", "finance")
_SEGMENTS = ("default", "default", "default", "default", "strategic")
_TERMS = (15, 30, 30, 30, 45, 60)
_METHODS = ("ach", "wire", "check", "card")
# Invoice size ranges in major units of each currency (a yen is about a hundredth of a dollar).
_AMOUNT_RANGE = {"USD": (150, 48_000), "EUR": (140, 44_000), "GBP": (120, 38_000), "JPY": (20_000, 6_000_000)}
# Days past due (negative: not yet due), weighted towards the recent past as a real ledger is.
_AGE_BANDS = ((-60, -1, 20), (0, 30, 30), (31, 60, 18), (61, 90, 12), (91, 120, 10), (121, 200, 10))


@dataclass
class DemoLedger:
    customers: bytes
    invoices: bytes
    payments: bytes
    today: dt.date
    summary: dict[str, int] = field(default_factory=dict)

    def files(self) -> dict[RecordKind, bytes]:
        """The demo's files in the order they import (each refers to the one before)."""
        return {"customers": self.customers, "invoices": self.invoices, "payments": self.payments}

    def file(self, kind: RecordKind) -> bytes:
        return self.files()[kind]


def format_amount(amount: Decimal, currency: str) -> str:
    """A decimal in the currency's exact number of places ('1234.50' USD, '125000' JPY)."""
    exponent = currency_exponent(currency)
    return f"{amount.quantize(Decimal(1).scaleb(-exponent)):.{exponent}f}"


def _csv(kind: RecordKind, rows: Iterable[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS[kind], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: "" if row.get(column) is None else row[column] for column in COLUMNS[kind]})
    return buffer.getvalue().encode("utf-8")


def _sample(rng: random.Random, make: Callable[[], str], valid: Callable[[str], bool]) -> str:
    while True:
        candidate = make()
        if valid(candidate):
            return candidate


def _tin(rng: random.Random, country: str, want_valid: bool) -> tuple[str | None, str | None]:
    def digits(n: int) -> str:
        return "".join(str(rng.randrange(10)) for _ in range(n))

    if country == "US":
        if not want_valid:  # 07 and 00 are prefixes the IRS never assigned
            return "ein", f"{rng.choice(('07', '00'))}-{digits(7)}"
        return "ein", _sample(rng, lambda: f"{digits(2)}-{digits(7)}", ein.is_valid)
    if country == "GB":
        return "gb_vat", _sample(rng, lambda: f"GB{digits(9)}", gb_vat.is_valid)
    if country in ("DE", "NL"):
        make = (lambda: f"DE{digits(9)}") if country == "DE" else (lambda: f"NL{digits(9)}B01")
        return "eu_vat", _sample(rng, make, eu_vat.is_valid)
    return None, None  # Japanese customers: no TIN on file yet, onboarding asks for it


def _phone(rng: random.Random, country: str) -> str:
    # Numbers from ranges reserved for fiction (US 555-01xx, UK Ofcom drama ranges) where they exist.
    if country == "US":
        return f"+1{rng.choice(('212', '312', '415', '512', '617', '720'))}55501{rng.randrange(100):02d}"
    if country == "GB":
        return f"+447700900{rng.randrange(1000):03d}"
    if country == "DE":
        return f"+4930{rng.randrange(10_000_000, 99_999_999)}"
    if country == "NL":
        return f"+3120{rng.randrange(1_000_000, 9_999_999)}"
    return f"+813{rng.randrange(10_000_000, 99_999_999)}"


def _slug(text: str) -> str:
    return "-".join(text.lower().replace(".", "").split())


def _customers(rng: random.Random) -> list[dict[str, Any]]:
    names = [(first, second) for first in _NAME_FIRST for second in _NAME_SECOND]
    rng.shuffle(names)
    countries = rng.choices(_COUNTRIES, weights=[c.weight for c in _COUNTRIES], k=DEMO_CUSTOMERS)
    # A few US customers carry an EIN the IRS never issues, so onboarding has something to flag.
    us_customers = [i for i, country in enumerate(countries) if country.code == "US"]
    invalid_tin_at = set(rng.sample(us_customers, min(3, len(us_customers))))
    customers = []
    for index, country in enumerate(countries):
        first, second = names[index]
        trade_name = f"{first} {second}"
        tin_type, tin = _tin(rng, country.code, want_valid=index not in invalid_tin_at)
        customers.append(
            {
                "customer_id": f"CUST-{index + 1:04d}",
                "legal_name": f"{trade_name} {rng.choice(country.legal_suffixes)}",
                "dba_name": trade_name if rng.random() < 0.3 else None,
                "tin_type": tin_type,
                "tin": tin,
                "country": country.code,
                "ap_email": f"{rng.choice(_AP_MAILBOXES)}@{_slug(trade_name)}.{country.domain}",
                "phone": _phone(rng, country.code) if rng.random() < 0.8 else None,
                "timezone": rng.choice(country.timezones),
                "segment": rng.choice(_SEGMENTS),
                "currency": country.currency,
                "terms_days": rng.choice(_TERMS),
            }
        )
    return customers


def _amount(rng: random.Random, currency: str) -> Decimal:
    """Log-uniform between the currency's bounds: many small invoices, a few large ones."""
    low, high = _AMOUNT_RANGE[currency]
    exponent = currency_exponent(currency)
    minor = int(math.exp(rng.uniform(math.log(low), math.log(high))) * 10**exponent)
    if currency == "JPY":
        minor = max(low, minor // 100 * 100)  # yen invoices are round hundreds
    return Decimal(minor).scaleb(-exponent)


def _invoice_counts(rng: random.Random) -> list[int]:
    """Invoices per customer: uneven (a few large accounts), summing to DEMO_INVOICES."""
    weights = [rng.paretovariate(1.5) for _ in range(DEMO_CUSTOMERS)]
    counts = [1 + int((DEMO_INVOICES - DEMO_CUSTOMERS) * w / sum(weights)) for w in weights]
    for index in rng.sample(range(DEMO_CUSTOMERS), DEMO_INVOICES - sum(counts)):
        counts[index] += 1
    return counts


def _days_past_due(rng: random.Random) -> int:
    low, high, _ = rng.choices(_AGE_BANDS, weights=[band[2] for band in _AGE_BANDS])[0]
    return rng.randint(low, high)


def generate_demo_ledger(today: dt.date, seed: int = DEMO_SEED) -> DemoLedger:
    """Customers, invoices, and the payments that settle some invoices in full and some in part (the
    invoices' `balance` column already reflects them, as an ERP's export does, so importing either file
    gives the same balances). Every date is on or before `today` except the due dates of invoices not yet
    due."""
    rng = random.Random(seed)
    customers = _customers(rng)
    invoices: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    paid_in_full = partly_paid = 0
    for customer, count in zip(customers, _invoice_counts(rng), strict=True):
        currency = customer["currency"]
        for _ in range(count):
            terms = customer["terms_days"] if rng.random() < 0.85 else rng.choice(_TERMS)
            due = today - dt.timedelta(days=_days_past_due(rng))
            issue = min(due - dt.timedelta(days=terms), today)
            amount = _amount(rng, currency)
            number = 10_001 + len(invoices)
            invoice_id = f"INV-{number}"
            invoices.append(
                {
                    "invoice_id": invoice_id,
                    "customer_id": customer["customer_id"],
                    "number": str(number),
                    "issue_date": issue.isoformat(),
                    "due_date": due.isoformat(),
                    "currency": currency,
                    "amount": format_amount(amount, currency),
                    "balance": None,  # set below from the payments, as the ERP's export reflects them
                    "po_number": f"PO-{rng.randrange(100_000, 999_999)}" if rng.random() < 0.6 else None,
                }
            )
            # Older invoices are likelier to have been paid; a not-yet-due one sometimes is already.
            age = (today - issue).days
            roll = rng.random()
            if roll < min(0.45, 0.1 + age / 400):
                parts = _split_in_full(rng, amount, currency)
                paid_in_full += 1
            elif roll < min(0.45, 0.1 + age / 400) + 0.15 and age > 5:
                parts = [_partial(rng, amount, currency)]
                partly_paid += 1
            else:
                invoices[-1]["balance"] = format_amount(amount, currency)
                continue
            invoices[-1]["balance"] = format_amount(amount - sum(parts, Decimal(0)), currency)
            for part in parts:
                paid_on = min(issue + dt.timedelta(days=rng.randint(1, max(1, age))), today)
                payments.append(
                    {
                        "customer_id": customer["customer_id"],
                        "invoice_id": invoice_id,
                        "date": paid_on.isoformat(),
                        "amount": format_amount(part, currency),
                        "currency": currency,
                        "method": rng.choice(_METHODS),
                    }
                )
    # Numbered in the order they arrived, as an ERP export would list them.
    payments.sort(key=lambda p: (p["date"], p["invoice_id"]))
    for number, payment in enumerate(payments, start=1):
        payment["payment_id"] = f"PAY-{number:05d}"
    return DemoLedger(
        customers=_csv("customers", customers),
        invoices=_csv("invoices", invoices),
        payments=_csv("payments", payments),
        today=today,
        summary={
            "customers": len(customers),
            "invoices": len(invoices),
            "payments": len(payments),
            "invoices_paid_in_full": paid_in_full,
            "invoices_partly_paid": partly_paid,
        },
    )


def _minor(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(currency_exponent(currency)))


def _split_in_full(rng: random.Random, amount: Decimal, currency: str) -> list[Decimal]:
    """One payment, or two instalments that add up to the amount exactly."""
    total = _minor(amount, currency)
    if total < 2 or rng.random() < 0.7:
        return [amount]
    first = rng.randrange(total // 4, total * 3 // 4)
    exponent = currency_exponent(currency)
    return [Decimal(first).scaleb(-exponent), Decimal(total - first).scaleb(-exponent)]


def _partial(rng: random.Random, amount: Decimal, currency: str) -> Decimal:
    """Strictly less than the amount (and more than nothing), in whole minor units."""
    total = _minor(amount, currency)
    paid = rng.randrange(max(1, total // 10), max(2, total * 9 // 10))
    return Decimal(paid).scaleb(-currency_exponent(currency))


class ImportReportLike(Protocol):
    rejected: int


class ImporterLike(Protocol):
    def import_file(self, kind: RecordKind, data: bytes, *, source: str) -> Any: ...


def load_demo(importer: ImporterLike, ledger: DemoLedger) -> dict[str, Any]:
    """Import customers, then invoices, then payments (each refers to the one before); returns the
    importer's report per file."""
    return {kind: importer.import_file(kind, data, source=f"demo/{kind}.csv") for kind, data in ledger.files().items()}
