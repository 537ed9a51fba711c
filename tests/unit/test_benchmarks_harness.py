"""The benchmark harness's pure parts: no timing, no moto, no subprocesses."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import (
    cold_imports,
    dunning_run,
    fresh_install,
    import_throughput,
    local_memory,
    planner_throughput,
    portal_latency,
    reads_per_due_action,
)
from benchmarks.__main__ import BENCHMARKS
from benchmarks.emulator import RequestCounts, items_touched, strip_prefix
from benchmarks.harness import (
    check_figures,
    format_table,
    median,
    merge_figures,
    parse_number,
    parse_overrides,
    ratio,
    resolve_params,
    write_results,
)


def test_median_of_odd_and_even_counts() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert median(iter([7])) == 7.0


def test_median_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        median([])


def test_ratio() -> None:
    assert ratio(3, 2) == 1.5
    assert ratio(0, 5) == 0.0
    for bad in (0, -1.0):
        with pytest.raises(ValueError):
            ratio(1, bad)


def test_parse_number_keeps_ints_ints() -> None:
    assert parse_number("20000") == 20000 and isinstance(parse_number("20000"), int)
    assert parse_number("100_000") == 100_000
    assert parse_number(" 0.01 ") == 0.01


def test_params_layer_defaults_quick_env_then_overrides() -> None:
    defaults = {"rows": 100, "runs": 7, "fraction": 0.01}
    quick = {"rows": 10}
    assert resolve_params(defaults, quick, use_quick=False, environ={}, overrides={}) == defaults
    assert resolve_params(defaults, quick, use_quick=True, environ={}, overrides={})["rows"] == 10
    params = resolve_params(
        defaults, quick, use_quick=True, environ={"BENCH_ROWS": "50", "BENCH_RUNS": "3"}, overrides={"runs": 5}
    )
    assert params == {"rows": 50, "runs": 5, "fraction": 0.01}
    # An override for another benchmark's parameter is not added to this one's.
    assert "other" not in resolve_params(defaults, quick, use_quick=False, environ={}, overrides={"other": 1})


def test_overrides_must_name_a_known_parameter() -> None:
    assert parse_overrides(["rows=5", "fraction=0.5"], ["rows", "fraction"]) == {"rows": 5, "fraction": 0.5}
    with pytest.raises(ValueError, match="unknown parameter"):
        parse_overrides(["nope=1"], ["rows"])
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_overrides(["rows"], ["rows"])


def test_two_benchmarks_cannot_report_the_same_figure() -> None:
    figures = {"a": 1.0}
    merge_figures(figures, {"b": 2.0}, "second")
    assert figures == {"a": 1.0, "b": 2.0}
    with pytest.raises(ValueError, match="third"):
        merge_figures(figures, {"a": 3.0}, "third")


def test_results_file_is_a_flat_sorted_dict_of_numbers_with_meta_beside_it(tmp_path: Path) -> None:
    out = tmp_path / ".bench" / "results.json"
    results_path, meta_path = write_results(
        out, {"reads_per_due_action": 1.0, "cold_import_ratio.api": 1.2, "due_actions": 1000}, {"quick": True}
    )
    assert results_path == out and meta_path == out.with_name("meta.json")
    text = out.read_text()
    figures = json.loads(text)
    assert list(figures) == sorted(figures)
    assert figures == {"cold_import_ratio.api": 1.2, "due_actions": 1000, "reads_per_due_action": 1.0}
    assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in figures.values())
    assert json.loads(meta_path.read_text()) == {"quick": True}


@pytest.mark.parametrize(
    "figures",
    [{"x": {"nested": 1}}, {"x": "1.0"}, {"x": True}, {"": 1.0}, {"x": math.nan}, {"x": math.inf}, {"x": None}],
)
def test_results_refuse_anything_but_named_finite_numbers(figures: dict[str, object], tmp_path: Path) -> None:
    with pytest.raises((TypeError, ValueError)):
        check_figures(figures)
    with pytest.raises((TypeError, ValueError)):
        write_results(tmp_path / "results.json", figures, {})  # type: ignore[arg-type]
    assert not (tmp_path / "results.json").exists()


def test_table_lists_every_figure_once() -> None:
    table = format_table({"import_rows_per_s": 851.234, "due_actions": 1000, "ratio": 1.23456})
    lines = table.splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ["import_rows_per_s", "851.2"]
    assert lines[1].split() == ["due_actions", "1,000"]
    assert lines[2].split() == ["ratio", "1.235"]
    assert format_table({}) == "(no figures)"


def test_every_benchmark_is_registered_with_quick_sizes_for_its_own_parameters() -> None:
    modules = (
        cold_imports,
        reads_per_due_action,
        dunning_run,
        portal_latency,
        planner_throughput,
        import_throughput,
        fresh_install,
        local_memory,
    )
    assert set(BENCHMARKS) == {m.NAME for m in modules}
    names = [p for m in modules for p in m.DEFAULTS]
    assert len(names) == len(set(names)), "parameter names are shared by --set and BENCH_*: keep them unique"
    for module in modules:
        assert module.__doc__, f"{module.NAME} says what it measures and why"
        assert set(module.QUICK) <= set(module.DEFAULTS)


def test_handler_discovery_finds_every_function() -> None:
    found = cold_imports.handler_modules()
    on_disk = {p.parent.name for p in (Path(__file__).resolve().parents[2] / "functions").glob("*/handler.py")}
    assert set(found) == on_disk and {"api", "ledger_ingest"} <= on_disk
    assert found["api"] == "functions.api.handler"


def test_items_touched_counts_items_per_table() -> None:
    gets: dict[str, Any] = {"RequestItems": {"p-invoices": {"Keys": [{}, {}, {}]}, "p-customers": {"Keys": [{}]}}}
    assert items_touched("BatchGetItem", gets) == ({"p-invoices": 3, "p-customers": 1}, {})
    writes: dict[str, Any] = {"RequestItems": {"p-invoices": [{"PutRequest": {}}] * 25}}
    assert items_touched("BatchWriteItem", writes) == ({}, {"p-invoices": 25})
    assert items_touched("GetItem", {"TableName": "t"}) == ({"t": 1}, {})
    assert items_touched("PutItem", {"TableName": "t"}) == ({}, {"t": 1})
    tx = {"TransactItems": [{"Put": {"TableName": "a"}}, {"Update": {"TableName": "b"}}, {"Put": {"TableName": "a"}}]}
    assert items_touched("TransactWriteItems", tx) == ({}, {"a": 2, "b": 1})
    assert items_touched("Query", {"TableName": "t"}) == ({}, {})
    assert strip_prefix({"p-invoices": 3}, "p-") == {"invoices": 3}


def test_request_counts_accumulate_and_reset() -> None:
    counts = RequestCounts()
    counts.record("GetItem", {"TableName": "t"})
    counts.record("GetItem", {"TableName": "t"})
    assert counts.requests["GetItem"] == 2 and counts.reads["t"] == 2
    counts.reset()
    assert not counts.requests and not counts.reads and not counts.writes


def test_generated_import_files_have_the_documented_columns() -> None:
    customers = import_throughput.customers_csv(3).splitlines()
    invoices = import_throughput.invoices_csv(5, customers=3).splitlines()
    assert customers[0].split(",")[0] == "customer_id" and len(customers) == 4
    assert invoices[0].split(",")[:2] == ["invoice_id", "customer_id"] and len(invoices) == 6
    assert all(len(line.split(",")) == len(invoices[0].split(",")) for line in invoices)
    assert import_throughput.invoices_csv(5, customers=3) == import_throughput.invoices_csv(5, customers=3)
