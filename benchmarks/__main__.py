"""Run the benchmark suites and record their figures in docs/benchmarks.md."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from benchmarks import (
    cold_start,
    ebay,
    forecast,
    history,
    import_year,
    local_iam,
    object_memory,
    reconcile,
    reports,
    stock_updates,
    validation,
    xlsx_reader,
)
from benchmarks.common import RESULTS, write_section

SUITES: dict[str, Callable[[bool], tuple[str, bool]]] = {
    "xlsx": xlsx_reader.run,
    "stock-updates": stock_updates.run,
    "reports": reports.run,
    "validation": validation.run,
    "history": history.run,
    "ebay": ebay.run,
    "local-iam": local_iam.run,
    "forecast": forecast.run,
    "object-memory": object_memory.run,
    "import": import_year.run,
    "reconcile": reconcile.run,
    "cold-start": cold_start.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--only", choices=sorted(SUITES), action="append", help="run only these suites")
    parser.add_argument("--quick", action="store_true", help="small inputs: checks the suites run, figures not kept")
    args = parser.parse_args(argv)
    missed = []
    began = time.perf_counter()
    for name in args.only or list(SUITES):
        print(f"== {name}", flush=True)
        markdown, met = SUITES[name](args.quick)
        print(markdown.strip(), flush=True)
        if not args.quick:
            write_section(name, markdown)
        if not met:
            missed.append(name)
    total = time.perf_counter() - began
    if not args.quick:
        if not args.only:
            write_section("total", f"`make bench` ran every suite in **{total / 60:.1f} minutes** (goal: under 10).")
        print(f"\nwritten to {RESULTS}")
    print(f"make bench took {total / 60:.1f} minutes")
    if missed:
        print(f"goals missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
