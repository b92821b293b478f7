"""`make chaos` in small: the reference workload on a clean stack and on one with every kind of fault injected,
and every invariant held (docs/reliability.md has the full-size figures)."""

from __future__ import annotations

import pytest

from local_aws.chaos import invariants, one_run, workload
from local_aws.faults import CALL_FAULTS, FaultPlan

SEED = 5


@pytest.fixture(scope="module")
def runs():
    size = workload.Size.small()
    # higher rates than make chaos's, so that a workload this small meets every kind of fault
    plan = FaultPlan(seed=SEED, calls=0.06, kills=0.15, duplicates=0.3)
    return one_run("test-clean", size, SEED, None), one_run("test-faulted", size, SEED, plan)


def test_every_kind_of_fault_was_injected(runs):
    figures = runs[1]["faults"]
    assert set(figures["calls faulted"]) == set(CALL_FAULTS), figures
    assert figures["invocations killed"] > 0, figures
    assert figures["S3 events delivered twice at once"] > 0, figures
    assert runs[0]["faults"] == {}  # the clean run had none


def test_every_invariant_held_under_faults(runs):
    clean, faulted = runs
    verdicts = invariants.compare(clean["snapshot"], faulted["snapshot"])
    report = "\n".join(f"{v.name}: {v.held} {v.detail} {v.examples}" for v in verdicts)
    assert all(v.held for v in verdicts), report
    assert len(verdicts) == 11


def test_a_changed_outcome_is_a_violation(runs):
    """The comparison is not blind: a level off by one, a lost alert and a doubled history row are each caught."""
    import copy

    clean, faulted = runs[0]["snapshot"], copy.deepcopy(runs[1]["snapshot"])
    level = next(iter(faulted.levels))
    faulted.levels[level] += 1
    faulted.alerts.pop(next(iter(faulted.alerts)))
    faulted.history.append(dict(faulted.history[0]))
    violated = {v.name for v in invariants.compare(clean, faulted) if not v.held}
    assert violated == {
        "every warehouse level identical",
        "alerts: the same crossings, each e-mailed",
        "history: each change once, no gap",
    }


@pytest.mark.single_region
def test_an_object_parked_in_the_dead_letter_queue_says_why_and_lands_when_redriven(local_stack):
    """Five failed receives park a file (an archived object S3 will not serve); its outcome names the reason; once
    the cause is gone (restored), the redrive `make chaos` does lands it like any other."""
    import gzip
    import json

    from local_aws.chaos import redrive_ingest

    s3, bucket = local_stack.client("s3"), local_stack.outputs["DataBucketName"]
    key = "raw/stock-updates/2026/12/01/03/parked.gz"
    record = {
        "accountId": 7, "retailerId": "retailer-parked", "channelId": 1, "productId": "p", "articleId": 70,
        "articleNumber": 1, "lastUpdated": "2026-12-01T03:00:00.000Z", "quantity": 17,
    }  # fmt: skip
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(json.dumps(record).encode()), StorageClass="GLACIER")
    local_stack.drain()
    sqs = local_stack.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=local_stack.outputs["IngestDeadLetterQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1"

    s3.restore_object(Bucket=bucket, Key=key, RestoreRequest={"Days": 1})
    [parked] = redrive_ingest(local_stack)
    assert parked["key"] == key
    assert parked["reason"].startswith("parked in the dead-letter queue after 5 attempts (InvalidObjectState")
    item = local_stack.client("dynamodb").get_item(
        TableName=local_stack.outputs["StockTableName"],
        Key={"PK": {"S": "RET#retailer-parked#ACC#7"}, "SK": {"S": "ART#70#CH#1"}},
    )["Item"]
    assert item["quantity"] == {"N": "17"}
