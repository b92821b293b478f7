"""Fault injection runs: the reference workload clean and under faults, and the invariants compared."""

from __future__ import annotations

import time
from typing import Any

from local_aws.chaos import invariants, workload
from local_aws.faults import FaultPlan
from local_aws.stack import LocalStack
from stock_pipeline.adapters.file_outcomes import FileOutcomes
from stock_pipeline.handlers.ingest import object_refs


def one_run(name: str, size: workload.Size, seed: int, plan: FaultPlan | None) -> dict[str, Any]:
    """The workload on a fresh stack (faulted when `plan` is given): its snapshot, seconds and fault figures."""
    began = time.monotonic()
    with LocalStack(
        stack_name=f"chaos-{name}",
        faults=plan,
        function_environment={"POWERTOOLS_LOG_LEVEL": "CRITICAL"},
        # the workload replays a fixed week (its figures compare across runs) as if it were happening now: every
        # crossing in it is news, e-mailed once
        parameters={"AlertFreshnessHours": "8760"},
    ) as stack:
        run = workload.run(stack, size, seed)
        redriven = redrive_ingest(stack)
        drained = time.monotonic() - began
        shot = invariants.snapshot(stack, run)
        shot.redriven = redriven
        figures = stack.faults.figures.as_dict() if stack.faults is not None else {}
        if stack.faults is not None:  # where each fault landed: what a duplicate e-mail is traced back to
            figures["journal"] = list(stack.faults.journal)
    return {"snapshot": shot, "seconds": round(drained, 1), "phases": run.seconds, "faults": figures}


def redrive_ingest(stack: LocalStack) -> list[dict[str, Any]]:
    """Move what the ingest dead-letter queue holds back to the ingest queue (as SQS's message move task does in
    AWS) and drain: each parked object with the reason its outcome gave when it was parked."""
    sqs, out = stack.client("sqs"), stack.outputs
    outcomes = FileOutcomes(stack.client("dynamodb"), out["StockTableName"])
    parked: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=out["IngestDeadLetterQueueUrl"], MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not batch:
            break
        for message in batch:
            for ref in object_refs(message["Body"]):
                found = outcomes.outcomes([(ref.key, ref.etag)]).get((ref.key, ref.etag)) or {}
                parked.append(
                    {"key": ref.key, "reason": found.get("summary") if found.get("status") == "FAILED" else None}
                )
            sqs.send_message(QueueUrl=out["IngestQueueUrl"], MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=out["IngestDeadLetterQueueUrl"], ReceiptHandle=message["ReceiptHandle"])
    if parked:
        stack.drain()
    return parked
