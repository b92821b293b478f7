"""Fault injection runs: the reference workload clean and under faults, and the invariants compared."""

from __future__ import annotations

import time
from typing import Any

from local_aws.chaos import invariants, workload
from local_aws.faults import FaultPlan
from local_aws.stack import LocalStack


def one_run(name: str, size: workload.Size, seed: int, plan: FaultPlan | None) -> dict[str, Any]:
    """The workload on a fresh stack (faulted when `plan` is given): its snapshot, seconds and fault figures."""
    began = time.monotonic()
    with LocalStack(
        stack_name=f"chaos-{name}", faults=plan, function_environment={"POWERTOOLS_LOG_LEVEL": "CRITICAL"}
    ) as stack:
        run = workload.run(stack, size, seed)
        drained = time.monotonic() - began
        shot = invariants.snapshot(stack, run)
        figures = stack.faults.figures.as_dict() if stack.faults is not None else {}
    return {"snapshot": shot, "seconds": round(drained, 1), "phases": run.seconds, "faults": figures}
