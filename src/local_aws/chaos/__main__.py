"""`make chaos`: the reference workload on a clean local stack, then on one with faults injected; the invariants
compared, the figures printed (and written with --json). Exits 1 when an invariant is violated."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from local_aws.chaos import invariants, one_run, workload
from local_aws.faults import FaultPlan

DEFAULTS = {"kills": 0.02, "duplicates": 0.10}  # the reference rates


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.05, help="share of the functions' AWS calls that fault")
    parser.add_argument("--kills", type=float, default=DEFAULTS["kills"], help="share of invocations killed")
    parser.add_argument(
        "--duplicates", type=float, default=DEFAULTS["duplicates"], help="share of S3 events delivered twice at once"
    )
    parser.add_argument("--small", action="store_true", help="the small workload make test runs")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    # a killed invocation never flushes its metrics, and Powertools warns about it: expected here, every time
    warnings.filterwarnings("ignore", message="There are unpublished metrics")
    size = workload.Size.small() if args.small else workload.Size()
    plan = FaultPlan(seed=args.seed, calls=args.rate, kills=args.kills, duplicates=args.duplicates)
    print(f"Reference workload ({size}), seed {args.seed}: clean run ...", flush=True)
    clean = one_run("clean", size, args.seed, None)
    print(f"  drained in {clean['seconds']} s. Faulted run ({plan}) ...", flush=True)
    faulted = one_run("faulted", size, args.seed, plan)
    print(f"  drained in {faulted['seconds']} s.\n", flush=True)
    verdicts = invariants.compare(clean["snapshot"], faulted["snapshot"])
    report = figures(args, size, plan, clean, faulted, verdicts)
    print(render(report, verdicts))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0 if all(v.held for v in verdicts) else 1


def figures(
    args: argparse.Namespace,
    size: workload.Size,
    plan: FaultPlan,
    clean: dict[str, Any],
    faulted: dict[str, Any],
    verdicts: list[invariants.Verdict],
) -> dict[str, Any]:
    duplicates, emails = invariants.duplicate_emails(faulted["snapshot"])
    return {
        "command": f'make chaos ARGS="{" ".join(arguments(args))}"',
        "workload": size.__dict__,
        "plan": plan.__dict__,
        "faults": faulted["faults"],
        "seconds to drain": {"clean": clean["seconds"], "faulted": faulted["seconds"]},
        "phases (s)": {"clean": clean["phases"], "faulted": faulted["phases"]},
        "e-mails": emails,
        "duplicate e-mails": duplicates,
        "duplicate e-mails per 10,000": round(10_000 * duplicates / emails, 1) if emails else 0.0,
        "invariants held": f"{sum(v.held for v in verdicts)} of {len(verdicts)}",
        "invariants": [{"name": v.name, "held": v.held, "detail": v.detail, "examples": v.examples} for v in verdicts],
    }


def arguments(args: argparse.Namespace) -> list[str]:
    """The arguments that reproduce the run (the kill and duplicate shares only where they are not the defaults)."""
    found = ["--seed", str(args.seed), "--rate", str(args.rate)]
    for name, default in DEFAULTS.items():
        if getattr(args, name) != default:
            found += [f"--{name}", str(getattr(args, name))]
    return found + (["--small"] if args.small else [])


def render(report: dict[str, Any], verdicts: list[invariants.Verdict]) -> str:
    lines = ["Faults injected:"]
    for name, value in report["faults"].items():
        if name != "journal":  # in the JSON only
            lines.append(f"  {name}: {value}")
    drained = report["seconds to drain"]
    lines.append(f"Time to drain: clean {drained['clean']} s, faulted {drained['faulted']} s")
    lines.append(
        f"E-mails: {report['e-mails']}, duplicates {report['duplicate e-mails']} "
        f"({report['duplicate e-mails per 10,000']} per 10,000)"
    )
    lines.append(f"\nInvariants ({report['invariants held']} held):")
    for verdict in verdicts:
        lines.append(f"  [{'held' if verdict.held else 'VIOLATED'}] {verdict.name}: {verdict.detail}")
        lines += [f"      {example}" for example in verdict.examples]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
