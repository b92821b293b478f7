"""The local stack's IAM enforcement: what checking every call costs, against the same calls unchecked.

One local stack; a function's role session sends the calls its code sends most (DynamoDB GetItem on the table,
S3 PutObject of a lake file into the SSE-KMS bucket, SQS SendMessage to a KMS-encrypted queue). Baseline, measured
in the same run and interleaved with it: the same calls with the enforcement switched off (moto answers them
unchecked). Checked: the signature recomputed, the actions and the KMS use each call needs evaluated against the
role's policies, the resource's policy and the key policy.
"""

from __future__ import annotations

import logging
from typing import Any

from benchmarks.common import interleaved, stamp

CALLS = 300
ROUNDS = 5
GOAL_RATIO = 1.5  # a checked call within 1.5x of an unchecked one


def run(quick: bool) -> tuple[str, bool]:
    from local_aws.stack import LocalStack

    calls = 30 if quick else CALLS
    logging.getLogger("local_aws").setLevel(logging.ERROR)
    with LocalStack(stack_name="bench-local-iam") as stack:
        session = stack.session_of("IngestFunction")
        ddb, s3 = session.client("dynamodb"), session.client("s3")
        sqs = stack.session_of("AlertFunction").client("sqs")
        table, bucket = stack.outputs["StockTableName"], stack.outputs["DataBucketName"]
        queue = stack.outputs["AlertFailureQueueUrl"]
        work: dict[str, Any] = {
            "DynamoDB GetItem": lambda i: ddb.get_item(TableName=table, Key={"PK": {"S": f"WH#{i}"}, "SK": {"S": "x"}}),
            "S3 PutObject (SSE-KMS)": lambda i: s3.put_object(
                Bucket=bucket, Key=f"curated/bench/{i}", Body=b"x" * 2048
            ),
            "SQS SendMessage (KMS)": lambda i: sqs.send_message(QueueUrl=queue, MessageBody="x"),
        }

        from moto.sqs.models import sqs_backends

        queued = sqs_backends["123456789012"][stack.region].queues[queue.rsplit("/", 1)[-1]]

        def contender(call: Any, enforce: bool) -> Any:
            def go() -> None:
                # moto's SendMessage slows down as its queue fills (and PurgeQueue is once a minute): every contender
                # starts from an empty queue
                queued._messages.clear()
                stack.iam.enabled = enforce
                for i in range(calls):
                    call(i)

            return go

        rows, met = [], True
        for name, call in work.items():
            call(0)  # warm: clients, policies compiled once
            timings = interleaved({"off": contender(call, False), "on": contender(call, True)}, ROUNDS)
            off, on = timings["off"].best_s / calls * 1000, timings["on"].best_s / calls * 1000
            ratio = on / off
            met &= ratio <= GOAL_RATIO
            rows.append(f"| {name} | {off:.2f} ms | {on:.2f} ms | **{ratio:.2f}x** |")
        stack.iam.enabled = True
    markdown = "\n".join(
        [
            "## Local stack: IAM, SigV4 and key policies checked on every call",
            "",
            f"Per call, best of {ROUNDS} interleaved rounds of {calls} calls with a function's role session; goal: "
            f"a checked call within {GOAL_RATIO}x of the same call unchecked.",
            "",
            "| call | unchecked | checked | ratio |",
            "|---|---|---|---|",
            *rows,
            "",
            stamp('make bench ARGS="--only local-iam"'),
        ]
    )
    return markdown, met
