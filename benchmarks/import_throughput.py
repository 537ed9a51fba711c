"""Ledger import throughput: customer rows (with TINs) and invoice rows per second through the importer,
first import and re-import.

Why: the nightly ERP export is the biggest write arcollect does, and the drop-folder Lambda has 15
minutes. A re-import of an unchanged file (the common case) should be cheaper than the first one. Every
customer row with a TIN is encrypted and fingerprinted, which must not cost a KMS round trip per row.

Setup: a customers CSV (`customer_rows` rows, every one with an EIN, so the TIN vault runs) and an
invoices CSV (`import_rows` rows, naming the first `import_customers` customers at random as in an export
sorted by invoice number) written to a temporary directory and imported with `build_importer` against a
moto server.

Measured: wall time of `import_file` for the customers, for the invoices, and for a second import of the
invoices that must leave every row unchanged; the KMS requests the customer import made (counted at the
client: the emulator's counter sees DynamoDB only). The reports' counts are checked, so a broken import
cannot post a fast time. Against moto the wall time is mostly the emulator's own work;
`*_client_cpu_s_per_1k_rows` is the CPU this thread spent (arcollect, PynamoDB, botocore: what the
Lambda would pay), and the item counts are what DynamoDB would bill, counted at the server.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

from benchmarks.emulator import BenchEmulator, running_emulator, strip_prefix
from benchmarks.harness import Figures, ratio
from shared.ledger.importer import LedgerImporter, build_importer
from shared.ledger.report import ImportReport
from shared.security.tin_vault import KmsTinVault

NAME = "import_throughput"
DEFAULTS: Mapping[str, float] = {"import_rows": 100_000, "import_customers": 1_000, "customer_rows": 5_000}
QUICK: Mapping[str, float] = {"import_rows": 2_000, "import_customers": 200, "customer_rows": 500}

EXPORT_DAY = date(2026, 3, 2)
CUSTOMER_HEADER = (
    "customer_id,legal_name,dba_name,tin_type,tin,country,ap_email,phone,timezone,segment,currency,terms_days"
)
INVOICE_HEADER = "invoice_id,customer_id,number,issue_date,due_date,currency,amount,balance,po_number"


def customers_csv(count: int) -> str:
    lines = [CUSTOMER_HEADER]
    for n in range(count):
        lines.append(
            f"CUST-{n:05d},Customer {n} Holdings Inc,Customer {n},ein,12-{3_000_000 + n:07d},US,"
            f"ap@customer{n}.example.com,+1212555{n % 10_000:04d},America/New_York,default,USD,30"
        )
    return "\n".join(lines) + "\n"


def invoices_csv(rows: int, customers: int, seed: int = 7) -> str:
    """Open invoices of the last 120 days; a few carry a partial or zero ERP balance."""
    rng = random.Random(seed)
    lines = [INVOICE_HEADER]
    for n in range(rows):
        issue = EXPORT_DAY - timedelta(days=rng.randint(0, 120))
        cents = rng.randint(5_000, 2_000_000)
        balance = cents if rng.random() < 0.9 else rng.randint(0, cents)
        po = f"PO-{rng.randint(1, 99_999)}" if rng.random() < 0.5 else ""
        lines.append(
            f"INV-{n:07d},CUST-{rng.randrange(customers):05d},{100_000 + n},{issue.isoformat()},"
            f"{(issue + timedelta(days=30)).isoformat()},USD,{cents / 100:.2f},{balance / 100:.2f},{po}"
        )
    return "\n".join(lines) + "\n"


def expect(report: ImportReport, **counts: int) -> None:
    """The import did what it should, or the benchmark fails (a fast broken import is no result)."""
    actual = {name: getattr(report, name) for name in counts}
    if actual != counts or report.rejected:
        problems = "; ".join(str(p) for p in report.problems[:3])
        raise AssertionError(
            f"{report.kind} import: expected {counts}, got {actual}, rejected {report.rejected}: {problems}"
        )


def timed_import(
    importer: LedgerImporter, emulator: BenchEmulator, kind: str, path: Path
) -> tuple[ImportReport, Figures]:
    """Imports the file; returns the report and its wall time, this thread's CPU time and item counts."""
    data = path.read_bytes()
    emulator.counts.reset()
    wall, cpu = time.perf_counter(), time.thread_time()
    report = importer.import_file(kind, data, source=path.name)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    rows = report.rows
    reads = strip_prefix(dict(emulator.counts.reads), emulator.table_prefix)
    writes = strip_prefix(dict(emulator.counts.writes), emulator.table_prefix)
    figures: Figures = {
        "rows_per_s": ratio(rows, wall),
        "s": wall,
        "client_cpu_s_per_1k_rows": ratio(cpu * 1000, rows),
        "requests_per_1k_rows": ratio(sum(emulator.counts.requests.values()) * 1000, rows),
        "item_reads_per_row": ratio(sum(reads.values()), rows),
        "item_writes_per_row": ratio(sum(writes.values()), rows),
    }
    for table, n in sorted(reads.items()):
        figures[f"item_reads_per_row.{table}"] = ratio(n, rows)
    return report, figures


def count_kms_requests(importer: LedgerImporter) -> Counter[str]:
    """KMS requests the importer's TIN vault makes from now on, by operation."""
    if not isinstance(importer.vault, KmsTinVault):
        raise TypeError("the benchmark measures the KMS TIN vault")
    calls: Counter[str] = Counter()
    importer.vault.kms.meta.events.register("before-call.kms", lambda model, **_: calls.update([model.name]))
    return calls


def run(params: Mapping[str, float]) -> Figures:
    rows, customers = int(params["import_rows"]), int(params["import_customers"])
    customer_rows = max(int(params["customer_rows"]), customers)
    with tempfile.TemporaryDirectory(prefix="arcollect-bench-") as tmp, running_emulator(tin_keys=True) as emulator:
        customers_path, invoices_path = Path(tmp) / "customers.csv", Path(tmp) / "invoices.csv"
        customers_path.write_text(customers_csv(customer_rows))
        invoices_path.write_text(invoices_csv(rows, customers))
        importer = build_importer(emulator.settings)
        kms_requests = count_kms_requests(importer)

        report, customer_figures = timed_import(importer, emulator, "customers", customers_path)
        expect(report, rows=customer_rows, created=customer_rows)
        kms_per_row = ratio(sum(kms_requests.values()), customer_rows)
        report, first = timed_import(importer, emulator, "invoices", invoices_path)
        expect(report, rows=rows, created=rows)
        report, again = timed_import(importer, emulator, "invoices", invoices_path)
        expect(report, rows=rows, unchanged=rows)

    figures: Figures = {
        "import_rows": rows,
        "customer_import_rows": customer_rows,
        "customer_import_rows_per_s": customer_figures["rows_per_s"],
        "customer_import_kms_requests_per_row": kms_per_row,
        "customer_import_requests_per_1k_rows": customer_figures["requests_per_1k_rows"],
        "customer_import_client_cpu_s_per_1k_rows": customer_figures["client_cpu_s_per_1k_rows"],
        "import_rows_per_s": first["rows_per_s"],
        "reimport_rows_per_s": again["rows_per_s"],
        "reimport_speedup": ratio(again["rows_per_s"], first["rows_per_s"]),
    }
    for prefix, measured in (("import", first), ("reimport", again)):
        for name, value in measured.items():
            if name != "rows_per_s":
                figures[f"{prefix}_{name}"] = value
    return figures
