"""`python -m stockctl reconcile` (the full reconciliation now, as its weekly schedule starts it) and
`python -m stockctl repair --run RUN --reason TEXT` (each level the run found different set to its expected value,
with a conditional write: a level that moved since the run is refused and named).

    python -m stockctl reconcile --stack stock-pipeline --wait
    python -m stockctl repair --run 20261207T050000Z-1a2b3c4d --reason "restored from the backup of 1 Dec" --dry-run
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from datetime import UTC, datetime
from typing import Any

from stock_pipeline.domain.reconciliation import DIFFERENCES_TABLE, Difference, checked_run, repair_cause


def differences(session: Any, outputs: dict[str, str], endpoint: str | None, run: str) -> list[Difference]:
    """Every difference of a run, from its partition in the lake (Parquet files; tens of thousands at most)."""
    import pyarrow.parquet as pq

    s3, bucket = session.client("s3", endpoint_url=endpoint), outputs["DataBucketName"]
    prefix = f"curated/{DIFFERENCES_TABLE}/run={checked_run(run)}/"
    found: list[Difference] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
            for row in table.to_pylist():
                found.append(
                    Difference(
                        warehouse=str(row["warehouse"]),
                        item_id=str(row["item_id"]),
                        expected=int(row["expected"]),
                        stored=None if row["stored"] is None else int(row["stored"]),
                        difference=int(row["difference"]),
                    )
                )
    return found


def who(session: Any, endpoint: str | None) -> str:
    """The caller's identity, for the history: its ARN (an assumed role's session name included)."""
    return str(session.client("sts", endpoint_url=endpoint).get_caller_identity()["Arn"])


def repair(args: argparse.Namespace, out: Any = sys.stdout) -> int:
    from stock_pipeline.adapters.reconciliation import Repairs
    from stockctl.stack import stack_access

    run = checked_run(args.run)
    cause = repair_cause(run, args.reason)
    session, outputs, endpoint = stack_access(args)
    found = differences(session, outputs, endpoint, run)
    if not found:
        out.write(f"run {run} has no differences in the lake (none found, or no such run)\n")
        return 0
    if args.dry_run:
        for d in found:
            stored = "no level" if d.stored is None else d.stored
            out.write(f"would set {d.warehouse} / {d.item_id}: {stored} -> {d.expected}\n")
        out.write(f"{len(found)} level(s) would be repaired; nothing was written\n")
        return 0
    repairs = Repairs(session.client("dynamodb", endpoint_url=endpoint), outputs["StockTableName"])
    caller, at = who(session, endpoint), datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    done, refused = 0, []
    for d in found:
        repaired, why = repairs.repair(d, cause=cause, who=caller, at=at)
        if repaired:
            done += 1
            out.write(
                f"repaired {d.warehouse} / {d.item_id}: {'no level' if d.stored is None else d.stored} -> "
                f"{d.expected}\n"
            )
        else:
            refused.append((d, why))
            out.write(f"REFUSED {d.warehouse} / {d.item_id}: {why}\n")
    out.write(f"{done} repaired, {len(refused)} refused (run the reconciliation again to see them anew)\n")
    return 0 if not refused else 1


def run_now(args: argparse.Namespace, out: Any = sys.stdout) -> int:
    """The workflow as the schedule starts it; with --wait, its summary."""
    from stockctl.stack import stack_access, start_workflow

    session, outputs, endpoint = stack_access(args)
    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    execution = start_workflow(sfn, outputs["ReconcileStateMachineArn"], args, {"trigger": "manual"})
    if execution is None:
        return 0
    result = json.loads(execution.get("output") or "{}")
    if result:
        out.write(
            f"run {result.get('run')}: {result.get('differences')} difference(s) "
            f"({result.get('total_units')} units; {result.get('missing_levels')} with no stored level)\n"
        )
    return 0 if execution["status"] == "SUCCEEDED" else 1
