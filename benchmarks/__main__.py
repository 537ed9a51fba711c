"""`python -m benchmarks [NAME ...] [--quick] [--set PARAM=VALUE ...] [--out PATH] [--list]`

Runs the named benchmarks (all by default), writes the flat figures to `--out` (.bench/results.json) and
the run's context to meta.json beside it, and prints a table. A benchmark that fails is reported in
meta.json and on stderr, the others still run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

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
from benchmarks.harness import (
    DEFAULT_OUT,
    ENV_PREFIX,
    Benchmark,
    Figures,
    format_table,
    machine_meta,
    merge_figures,
    parse_overrides,
    resolve_params,
    write_results,
)

BENCHMARKS: dict[str, Benchmark] = {
    module.NAME: module
    for module in (
        cold_imports,
        reads_per_due_action,
        dunning_run,
        portal_latency,
        planner_throughput,
        import_throughput,
        fresh_install,
        local_memory,
    )
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Run the arcollect benchmarks.")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes: the whole run takes about a minute")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help=f"override a parameter (also {ENV_PREFIX}<PARAM> in the environment)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results file (default {DEFAULT_OUT})")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and their parameters, and exit")
    args = parser.parse_args(argv)

    if args.list:
        for name, bench in BENCHMARKS.items():
            defaults = ", ".join(f"{p}={v} (quick {bench.QUICK.get(p, v)})" for p, v in bench.DEFAULTS.items())
            print(f"{name}: {defaults}")
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    selected = args.names or list(BENCHMARKS)
    try:
        overrides = parse_overrides(args.overrides, (p for b in BENCHMARKS.values() for p in b.DEFAULTS))
    except ValueError as exc:
        parser.error(str(exc))

    meta: dict[str, Any] = machine_meta() | {"quick": args.quick, "benchmarks": {}}
    figures: Figures = {}
    failed = []
    started = time.perf_counter()
    for name in selected:
        bench = BENCHMARKS[name]
        params = resolve_params(
            bench.DEFAULTS, bench.QUICK, use_quick=args.quick, environ=os.environ, overrides=overrides
        )
        print(f"== {name} {params}", file=sys.stderr, flush=True)
        entry: dict[str, Any] = {"params": params}
        bench_started = time.perf_counter()
        try:
            result = bench.run(params)
            merge_figures(figures, result, name)
            print(format_table(result), file=sys.stderr, flush=True)
        except Exception as exc:
            traceback.print_exc()
            entry["error"] = f"{type(exc).__name__}: {exc}"
            failed.append(name)
        entry["wall_s"] = round(time.perf_counter() - bench_started, 2)
        meta["benchmarks"][name] = entry
    meta["wall_s"] = round(time.perf_counter() - started, 2)
    meta["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    results_path, meta_path = write_results(args.out, figures, meta)
    print(format_table(figures))
    walls = ", ".join(f"{n} {e['wall_s']:.0f}s" for n, e in meta["benchmarks"].items())
    print(f"\nwall {meta['wall_s']:.0f}s ({walls}); wrote {results_path} and {meta_path}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (see {meta_path})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
